// A funder's commitments to its partners, feedback rounds and their results (withheld
// figures shown as withheld, with why), and the actions the funder takes in answer.
import { Box, Typography } from "@mui/material";
import {
  ArrayField,
  AutocompleteArrayInput,
  BooleanField,
  BooleanInput,
  ChipField,
  Create,
  Datagrid,
  DateField,
  DateInput,
  Edit,
  FormDataConsumer,
  FunctionField,
  List,
  NumberField,
  ReferenceArrayInput,
  ReferenceInput,
  SelectInput,
  Show,
  SimpleForm,
  SimpleShowLayout,
  TextField,
  TextInput,
  useRecordContext,
} from "react-admin";
import { Withheld, today } from "./common";
import type { Rec } from "./lists";
import { ActionForm, DataTable, Read } from "./widgets";

// Commitments, rounds, results, actions ---------------------------------------------------

export const CommitmentList = () => (
  <List empty={false} sort={{ field: "position", order: "ASC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <NumberField source="position" />
      <TextField source="title" />
      <ChipField source="status" />
      <NumberField source="promised_days" label="Promised days" />
    </Datagrid>
  </List>
);

function CommitmentActions() {
  const c = useRecordContext<Rec>();
  if (!c || c.status !== "draft") return null;
  return <ActionForm title="Publish this commitment" path={`/commitments/${c.id}/publish`} fields={[]} submit="Publish" toBody={() => ({})} />;
}

export const CommitmentShow = () => (
  <Show>
    <SimpleShowLayout>
      <TextField source="title" />
      <TextField source="description" />
      <ChipField source="status" />
      <NumberField source="current_version" label="Version" />
      <CommitmentActions />
    </SimpleShowLayout>
  </Show>
);

export const CommitmentCreate = () => (
  <Create redirect="show">
    <SimpleForm defaultValues={{ status: "draft", position: 0 }}>
      <TextInput source="title" fullWidth />
      <TextInput source="description" multiline minRows={3} fullWidth />
      <TextInput source="position" type="number" parse={(v: string) => Number(v)} />
      <SelectInput source="status" choices={[{ id: "draft", name: "draft" }, { id: "published", name: "published" }]} />
    </SimpleForm>
  </Create>
);

export const RoundList = () => (
  <List empty={false} sort={{ field: "opens_on", order: "DESC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <TextField source="title" />
      <DateField locales="en-GB" source="opens_on" label="Opens" />
      <DateField locales="en-GB" source="closes_on" label="Closes" />
      <ChipField source="status" />
    </Datagrid>
  </List>
);

/** What partners said about each commitment; a withheld figure says why it is withheld. */
export function ResultsTable({ results }: { results: Rec[] }) {
  return (
    <DataTable
      label="Results"
      headers={["Commitment", "What partners said"]}
      rows={results.map((r) => ({
        key: r.id ?? `${r.round_id}-${r.commitment_id}-${r.kind}`,
        cells: [
          r.title ?? r.round_title,
          (r.withheld ?? []).length > 0 ? (
            <Withheld value={null} withheld={r.withheld} />
          ) : (
            `Mean ${r.mean} of 5 from ${r.responses} responses${r.dont_know ? `; ${r.dont_know} did not know` : ""}`
          ),
        ],
      }))}
    />
  );
}

function RoundActions() {
  const r = useRecordContext<Rec>();
  if (!r) return null;
  const step = { draft: ["open", "Open the round"], open: ["close", "Close the round"], closed: ["publish", "Publish the results"] }[
    r.status as string
  ];
  return (
    <Box>
      {step ? <ActionForm title={step[1]} path={`/rounds/${r.id}/${step[0]}`} fields={[]} submit={step[1]} toBody={() => ({})} /> : null}
      {r.status === "closed" || r.status === "published" ? (
        <Read<Rec[]> key={r.status} path={`/rounds/${r.id}/results`}>
          {(results) => (
            <Box>
              <Typography variant="h6" component="h2">
                Results
              </Typography>
              <ResultsTable results={results} />
            </Box>
          )}
        </Read>
      ) : null}
    </Box>
  );
}

export const RoundShow = () => (
  <Show>
    <SimpleShowLayout>
      <TextField source="title" />
      <TextField source="description" />
      <ChipField source="status" />
      <DateField locales="en-GB" source="opens_on" label="Opens" />
      <DateField locales="en-GB" source="closes_on" label="Closes" />
      <FunctionField label="Whom it asks" render={(r: Rec) => AUDIENCES.find((a) => a.id === r.audience)?.name ?? r.audience} />
      <NumberField source="invited_count" label="Partners invited" emptyText="—" />
      <NumberField source="k_threshold" label="Anonymity threshold (k)" emptyText="—" />
      <ArrayField source="commitments" label="Asks about">
        <Datagrid bulkActionButtons={false}>
          <TextField source="title" />
        </Datagrid>
      </ArrayField>
      <RoundActions />
    </SimpleShowLayout>
  </Show>
);

const AUDIENCES = [
  { id: "active", name: "Partners in an active relationship" },
  { id: "ended", name: "Partners whose relationship has ended" },
  { id: "chosen", name: "Organisations you choose" },
  { id: "pool", name: "Organisations a pooled fund granted or had proposed to" },
];

/** Whom the round asks when it opens; organisations or a pool only for the audiences that use them. */
function AudienceInputs() {
  return (
    <>
      <SelectInput source="audience" label="Whom the round asks" choices={AUDIENCES} helperText="Only organisations that accepted your funder are invited, and only they count towards k." />
      <FormDataConsumer<Rec>>
        {({ formData }) =>
          formData.audience === "chosen" ? (
            <ReferenceArrayInput source="organisation_ids" reference="partners" sort={{ field: "name", order: "ASC" }}>
              <AutocompleteArrayInput optionText="name" label="Organisations" fullWidth />
            </ReferenceArrayInput>
          ) : formData.audience === "pool" ? (
            <ReferenceInput source="pool_id" reference="pools" sort={{ field: "name", order: "ASC" }}>
              <SelectInput optionText="name" label="Pooled fund" />
            </ReferenceInput>
          ) : null
        }
      </FormDataConsumer>
    </>
  );
}

/** Organisations and a pool go only with the audience that uses them. */
const withAudience = (d: Rec) => ({
  ...d,
  organisation_ids: d.audience === "chosen" ? d.organisation_ids : null,
  pool_id: d.audience === "pool" ? d.pool_id : null,
});

export const RoundCreate = () => (
  <Create redirect="show" transform={withAudience}>
    <SimpleForm defaultValues={{ opens_on: today(), audience: "active" }}>
      <TextInput source="title" fullWidth />
      <TextInput source="description" multiline minRows={2} fullWidth />
      <DateInput source="opens_on" label="Opens" />
      <DateInput source="closes_on" label="Closes" />
      <AudienceInputs />
    </SimpleForm>
  </Create>
);

/** A round's title, dates and audience: whom it asks can change while it is a draft. */
export const RoundEdit = () => (
  <Edit redirect="show" mutationMode="pessimistic" transform={withAudience}>
    <SimpleForm>
      <TextInput source="title" fullWidth />
      <TextInput source="description" multiline minRows={2} fullWidth />
      <DateInput source="opens_on" label="Opens" />
      <DateInput source="closes_on" label="Closes" />
      <AudienceInputs />
    </SimpleForm>
  </Edit>
);

export const ResultList = () => (
  <List empty={false} sort={{ field: "closes_on", order: "DESC" }}>
    <Datagrid bulkActionButtons={false}>
      <TextField source="round_title" label="Round" />
      <TextField source="title" label="Commitment" />
      <TextField source="kind" />
      <FunctionField
        label="What partners said"
        render={(r: Rec) =>
          r.withheld.length ? <Withheld value={null} withheld={r.withheld} /> : `Mean ${r.mean} of 5 from ${r.responses} responses`
        }
      />
    </Datagrid>
  </List>
);

const ACTION_STATUS = ["planned", "in_progress", "done", "not_doing"].map((s) => ({ id: s, name: s.replace("_", " ") }));

export const ActionList = () => (
  <List empty={false} sort={{ field: "created_at", order: "DESC" }}>
    <Datagrid rowClick="edit" bulkActionButtons={false}>
      <TextField source="title" />
      <ChipField source="status" />
      <DateField locales="en-GB" source="due_on" label="Due" />
      <BooleanField source="published" />
    </Datagrid>
  </List>
);

export const ActionCreate = () => (
  <Create redirect="list">
    <SimpleForm defaultValues={{ status: "planned", published: false }}>
      <TextInput source="title" label="What we will do" fullWidth />
      <TextInput source="description" multiline minRows={2} fullWidth />
      <ReferenceInput source="round_id" reference="rounds">
        <SelectInput optionText="title" label="Answers the round" />
      </ReferenceInput>
      <SelectInput source="status" choices={ACTION_STATUS} />
      <DateInput source="due_on" label="Due" />
      <BooleanInput source="published" label="Show it to partners and on the public scorecard" />
    </SimpleForm>
  </Create>
);

export const ActionEdit = () => (
  <Edit mutationMode="pessimistic" redirect="list" title="Change an action">
    <SimpleForm>
      <TextInput source="title" label="What we will do" fullWidth />
      <TextInput source="description" multiline minRows={2} fullWidth />
      <SelectInput source="status" choices={ACTION_STATUS} />
      <DateInput source="due_on" label="Due" />
      <BooleanInput source="published" label="Show it to partners and on the public scorecard" />
    </SimpleForm>
  </Edit>
);

