// What a funder's staff learn across partners: themes (tags) on what they read, learning
// notes drawing on updates and interactions, and gatherings (learning days, network
// meetings). Tags are themes in the funder's own words, never judgements of a partner.
import { Link } from "react-router-dom";
import { Box, Link as MLink, Typography } from "@mui/material";
import {
  ArrayField,
  BooleanField,
  Create,
  Datagrid,
  DateField,
  DateTimeInput,
  Edit,
  FunctionField,
  List,
  ReferenceArrayInput,
  ReferenceField,
  ReferenceManyField,
  SelectArrayInput,
  SelectInput,
  Show,
  SimpleForm,
  SimpleShowLayout,
  TextField,
  TextInput,
  useRecordContext,
} from "react-admin";
import { when } from "./common";
import { PartnerName, type Rec } from "./lists";
import { ActionForm } from "./widgets";

// Themes (tags) ---------------------------------------------------------------------------

const SUBJECT_PATH: Record<string, string> = {
  update: "updates",
  interaction: "interactions",
  thread: "threads",
  learning_note: "learning-notes",
};

export const TagList = () => (
  <List empty={false} exporter={false} sort={{ field: "tag", order: "ASC" }} filters={[<TextInput key="tag" source="tag" label="Theme" alwaysOn />]}>
    <Datagrid bulkActionButtons={false}>
      <TextField source="tag" label="Theme" />
      <FunctionField
        label="On"
        render={(t: Rec) => (
          <MLink component={Link} to={`/${SUBJECT_PATH[t.subject_kind]}/${t.subject_id}/show`}>
            {t.subject_kind.replace("_", " ")}
          </MLink>
        )}
      />
      <FunctionField label="Partner" render={(t: Rec) => (t.partner_id ? <PartnerName label="Partner" /> : "—")} />
      <TextField source="created_by" label="Tagged by" />
      <DateField locales="en-GB" source="created_at" label="On" />
    </Datagrid>
  </List>
);

/** The themes on one record, and a form to add one (private to the funder's staff). */
export function Themes({ kind }: { kind: keyof typeof SUBJECT_PATH }) {
  const r = useRecordContext<Rec>();
  if (!r) return null;
  return (
    <Box sx={{ my: 2 }}>
      <Typography variant="h6" component="h2">
        Themes
      </Typography>
      <ReferenceManyField reference="tags" target="subject_id" sort={{ field: "tag", order: "ASC" }}>
        <Datagrid bulkActionButtons={false} empty={<Typography>No themes yet.</Typography>}>
          <TextField source="tag" label="Theme" />
          <TextField source="created_by" label="Tagged by" />
        </Datagrid>
      </ReferenceManyField>
      <ActionForm
        title="Add a theme"
        path="/tags"
        submit="Add the theme"
        fields={[{ name: "tag", label: "Theme, in your own words (e.g. energy costs)" }]}
        toBody={(v) => ({ subject_kind: kind, subject_id: r.id, tag: v.tag })}
      />
    </Box>
  );
}

// Learning notes --------------------------------------------------------------------------

// An update's four questions are each optional: name it by the first one answered.
const updateText = (u: Rec) =>
  `${when(u.sent_at)}: ${String(u.what_changed ?? u.what_we_learned ?? u.what_was_hard ?? u.want_you_to_know ?? "").slice(0, 90)}`;
const interactionText = (i: Rec) => `${when(i.occurred_at)} ${i.kind}: ${String(i.summary ?? "").slice(0, 90)}`;

export const LearningNoteList = () => (
  <List empty={false} exporter={false} sort={{ field: "created_at", order: "DESC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <TextField source="title" />
      <TextField source="written_by" label="Written by" />
      <DateField locales="en-GB" source="created_at" label="Written on" />
      <FunctionField label="Themes" render={(n: Rec) => (n.tags.length ? n.tags.join(", ") : "—")} />
    </Datagrid>
  </List>
);

const NoteForm = () => (
  <SimpleForm>
    <TextInput source="title" fullWidth />
    <TextInput source="body" label="What you learnt" multiline minRows={5} fullWidth />
    <ReferenceArrayInput source="update_ids" reference="updates" sort={{ field: "sent_at", order: "DESC" }} perPage={100}>
      <SelectArrayInput optionText={updateText} label="Updates it draws on" fullWidth />
    </ReferenceArrayInput>
    <ReferenceArrayInput source="interaction_ids" reference="interactions" sort={{ field: "occurred_at", order: "DESC" }} perPage={100}>
      <SelectArrayInput optionText={interactionText} label="Interactions it draws on" fullWidth />
    </ReferenceArrayInput>
  </SimpleForm>
);

export const LearningNoteCreate = () => (
  <Create redirect="show">
    <NoteForm />
  </Create>
);

export const LearningNoteEdit = () => (
  <Edit redirect="show" mutationMode="pessimistic">
    <NoteForm />
  </Edit>
);

function Sources() {
  const n = useRecordContext<Rec>();
  if (!n) return null;
  return (
    <Box>
      <Typography variant="subtitle1" component="h2">
        What it draws on
      </Typography>
      <Box component="ul" sx={{ pl: 2 }}>
        {n.update_ids.map((id: string) => (
          <li key={id}>
            <ReferenceField record={{ id }} source="id" reference="updates" link="show">
              <FunctionField render={(u: Rec) => `Update ${updateText(u)}`} />
            </ReferenceField>
          </li>
        ))}
        {n.interaction_ids.map((id: string) => (
          <li key={id}>
            <ReferenceField record={{ id }} source="id" reference="interactions" link="show">
              <FunctionField render={(i: Rec) => `Interaction ${interactionText(i)}`} />
            </ReferenceField>
          </li>
        ))}
        {n.update_ids.length + n.interaction_ids.length === 0 ? <li>Nothing linked yet.</li> : null}
      </Box>
    </Box>
  );
}

export const LearningNoteShow = () => (
  <Show>
    <SimpleShowLayout>
      <TextField source="title" />
      <TextField source="body" label="What you learnt" />
      <TextField source="written_by" label="Written by" />
      <DateField locales="en-GB" source="updated_at" label="Last changed" />
      <Sources />
      <Themes kind="learning_note" />
    </SimpleShowLayout>
  </Show>
);

// Gatherings ------------------------------------------------------------------------------

const KINDS = [
  { id: "learning_day", name: "Learning day" },
  { id: "network_meeting", name: "Network meeting" },
  { id: "other", name: "Other" },
];
const kindName = (k: string) => KINDS.find((c) => c.id === k)?.name ?? k;

export const GatheringList = ({ partner }: { partner?: boolean }) => (
  <List empty={false} exporter={false} sort={{ field: "held_at", order: "DESC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <DateField locales="en-GB" source="held_at" label="Held on" />
      <TextField source="title" />
      <FunctionField label="Kind" render={(g: Rec) => kindName(g.kind)} />
      <TextField source="place" emptyText="—" />
      {partner ? (
        <FunctionField label="You came" render={(g: Rec) => (g.invitees[0]?.attended ? "yes" : "no")} />
      ) : (
        <FunctionField label="Came / invited" render={(g: Rec) => `${g.invitees.filter((i: Rec) => i.attended).length} of ${g.invitees.length}`} />
      )}
    </Datagrid>
  </List>
);

const GatheringForm = ({ record }: { record?: Rec }) => (
  <SimpleForm record={record}>
    <SelectInput source="kind" choices={KINDS} />
    <TextInput source="title" fullWidth />
    <DateTimeInput source="held_at" label="Held at" />
    <TextInput source="place" />
    <ReferenceArrayInput source="invited_partner_ids" reference="partners" sort={{ field: "name", order: "ASC" }} perPage={100}>
      <SelectArrayInput optionText="name" label="Partners invited" fullWidth />
    </ReferenceArrayInput>
    <ReferenceArrayInput source="attended_partner_ids" reference="partners" sort={{ field: "name", order: "ASC" }} perPage={100}>
      <SelectArrayInput optionText="name" label="Partners who came (each one of the invited)" fullWidth />
    </ReferenceArrayInput>
    <TextInput source="shared_notes" label="Shared notes (read by every partner that came)" multiline minRows={3} fullWidth />
    <TextInput source="private_notes" label="Private notes (your funder's own, never shown to a partner)" multiline minRows={3} fullWidth />
  </SimpleForm>
);

export const GatheringCreate = () => (
  <Create redirect="show">
    <GatheringForm />
  </Create>
);

/** The form edits who was invited and who came as two lists; the record holds them as invitees. */
function GatheringEditForm() {
  const g = useRecordContext<Rec>();
  if (!g) return null;
  const invitees: Rec[] = g.invitees ?? [];
  return (
    <GatheringForm
      record={{
        ...g,
        invited_partner_ids: invitees.map((i) => i.partner_id),
        attended_partner_ids: invitees.filter((i) => i.attended).map((i) => i.partner_id),
      }}
    />
  );
}

export const GatheringEdit = () => (
  <Edit redirect="show" mutationMode="pessimistic">
    <GatheringEditForm />
  </Edit>
);

export const GatheringShow = ({ partner }: { partner?: boolean }) => (
  <Show>
    <SimpleShowLayout>
      <TextField source="title" />
      <FunctionField label="Kind" render={(g: Rec) => kindName(g.kind)} />
      <DateField locales="en-GB" source="held_at" label="Held on" showTime />
      <TextField source="place" emptyText="—" />
      {partner ? (
        <FunctionField label="You came" render={(g: Rec) => (g.invitees[0]?.attended ? "yes" : "no")} />
      ) : (
        <ArrayField source="invitees" label="Partners invited">
          <Datagrid bulkActionButtons={false}>
            <PartnerName label="Partner" />
            <BooleanField source="attended" label="Came" />
          </Datagrid>
        </ArrayField>
      )}
      <TextField source="shared_notes" label={partner ? "Notes shared with the partners that came" : "Shared notes"} emptyText="—" />
      {partner ? null : <TextField source="private_notes" label="Private notes (never shown to a partner)" emptyText="—" />}
    </SimpleShowLayout>
  </Show>
);
