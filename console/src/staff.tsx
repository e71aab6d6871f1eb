// Screens for a funder's staff: react-admin resources over the API as any client sees it.
import { Link } from "react-router-dom";
import {
  Alert,
  Box,
  Button as MButton,
  Link as MLink,
  Typography,
} from "@mui/material";
import {
  AutocompleteInput,
  BooleanField,
  BooleanInput,
  ChipField,
  Create,
  Datagrid,
  DateField,
  DateInput,
  List,
  NumberField,
  ReferenceField,
  ReferenceInput,
  ReferenceManyField,
  SelectInput,
  Show,
  SimpleForm,
  SimpleShowLayout,
  TabbedShowLayout,
  TextField,
  TextInput,
  usePermissions,
  useRecordContext,
} from "react-admin";
import { money, toMinor } from "./data";
import { Section, SectionStatus, today, when } from "./common";
import { ActionForm, DataTable, Read, useRead } from "./widgets";
import type { Acting } from "./auth";

import { ContactsGrid, DocumentsGrid, GrantsGrid, Money, PartnerName, type Rec } from "./lists";
import { BankDetailsForFinance } from "./bank";
import { GrantRequests } from "./requests";
import { Themes } from "./learning";

// Partners --------------------------------------------------------------------------------

export const PartnerList = () => (
  <List empty={false} sort={{ field: "name", order: "ASC" }} filters={[<TextInput key="q" source="q" label="Search" alwaysOn />]}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <TextField source="name" />
      <TextField source="region" />
      <TextField source="relationship.status" label="Relationship" />
      <TextField source="org_id" label="Org id" />
    </Datagrid>
  </List>
);

function PartnerOverview() {
  const record = useRecordContext<Rec>();
  if (!record) return null;
  return (
    <Read<Rec> path={`/partners/${record.id}/overview`}>
      {(o) => (
        <Box>
          <Section title="Grants">
            <SectionStatus section={o.grants} />
            <Typography>
              Awarded {Object.entries(o.grants.awarded ?? {}).map(([c, v]) => money(v as number, c)).join(", ") || "nothing yet"}; paid{" "}
              {Object.entries(o.grants.paid ?? {}).map(([c, v]) => money(v as number, c)).join(", ") || "nothing yet"}.
            </Typography>
            {o.grants.next_instalment ? (
              <Typography>
                Next instalment {money(o.grants.next_instalment.amount, o.grants.next_instalment.currency)} due{" "}
                {when(o.grants.next_instalment.due_date)}.
              </Typography>
            ) : null}
          </Section>
          <Section title="Updates">
            <SectionStatus section={o.updates} />
            <Typography>{o.updates.awaiting_reply_count ?? 0} awaiting your reply.</Typography>
            {(o.updates.latest ?? []).map((u: Rec) => (
              <Typography key={u.id}>
                <MLink component={Link} to={`/updates/${u.id}/show`}>
                  Sent {when(u.sent_at)}
                </MLink>
                : {u.what_changed ?? u.want_you_to_know ?? ""}
              </Typography>
            ))}
          </Section>
          <Section title="Last contact">
            <SectionStatus section={o.last_interaction} />
            {o.last_interaction.interaction ? (
              <Typography>
                {o.last_interaction.interaction.kind} on {when(o.last_interaction.interaction.occurred_at)}:{" "}
                {o.last_interaction.interaction.summary}
              </Typography>
            ) : (
              <Typography>None recorded.</Typography>
            )}
          </Section>
          <Section title="Feedback rounds">
            <SectionStatus section={o.rounds} />
            {(o.rounds.rounds ?? []).map((r: Rec) => (
              <Typography key={r.id}>{r.title} ({r.status})</Typography>
            ))}
          </Section>
        </Box>
      )}
    </Read>
  );
}

function PartnerTimeline() {
  const record = useRecordContext<Rec>();
  if (!record) return null;
  return (
    <Read<Rec[]> path={`/partners/${record.id}/timeline`}>
      {(entries) =>
        entries.length === 0 ? (
          <Typography>Nothing yet.</Typography>
        ) : (
          <Box component="ol" sx={{ pl: 2 }}>
            {entries.map((e, i) => (
              <li key={e.id ?? i}>
                <Typography>
                  <strong>{when(e.at ?? e.occurred_at ?? e.created_at)}</strong> {e.kind ?? e.type}: {e.summary ?? e.title ?? ""}
                </Typography>
              </li>
            ))}
          </Box>
        )
      }
    </Read>
  );
}

function RecordVisit() {
  const record = useRecordContext<Rec>();
  if (!record) return null;
  return (
    <MButton component={Link} to="/interactions/create" state={{ record: { partner_id: record.id, kind: "visit" } }} variant="contained">
      Record a visit or call
    </MButton>
  );
}

export const PartnerShow = () => (
  <Show>
    <TabbedShowLayout>
      <TabbedShowLayout.Tab label="Overview">
        <TextField source="name" component="h2" />
        <TextField source="description" />
        <TextField source="region" />
        <TextField source="website" />
        <PartnerOverview />
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Timeline" path="timeline">
        <PartnerTimeline />
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Interactions" path="interactions">
        <RecordVisit />
        <ReferenceManyField reference="interactions" target="partner_id" label={false} sort={{ field: "occurred_at", order: "DESC" }}>
          <Datagrid bulkActionButtons={false} rowClick="show">
            <DateField locales="en-GB" source="occurred_at" label="When" />
            <TextField source="kind" />
            <TextField source="summary" />
          </Datagrid>
        </ReferenceManyField>
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Grants" path="grants">
        <ReferenceManyField reference="grants" target="partner_id" label={false} sort={{ field: "created_at", order: "DESC" }}>
          <GrantsGrid />
        </ReferenceManyField>
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Documents" path="documents">
        <ReferenceManyField reference="documents" target="partner_id" label={false} sort={{ field: "year", order: "DESC" }}>
          <DocumentsGrid />
        </ReferenceManyField>
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Contacts" path="contacts">
        <ReferenceManyField reference="contacts" target="partner_id" label={false} sort={{ field: "name", order: "ASC" }}>
          <ContactsGrid />
        </ReferenceManyField>
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Bank details" path="bank">
        <BankDetailsForFinance />
      </TabbedShowLayout.Tab>
    </TabbedShowLayout>
  </Show>
);

// Interactions ----------------------------------------------------------------------------

const KINDS = ["visit", "call", "meeting", "event", "other"].map((k) => ({ id: k, name: k }));

export const InteractionList = () => (
  <List empty={false} sort={{ field: "occurred_at", order: "DESC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <DateField locales="en-GB" source="occurred_at" label="When" />
      <PartnerName label="Partner" />
      <TextField source="kind" />
      <TextField source="summary" />
    </Datagrid>
  </List>
);

export const InteractionShow = () => (
  <Show title="A visit, call or meeting">
    <SimpleShowLayout>
      <PartnerName label="Partner" />
      <TextField source="kind" />
      <DateField locales="en-GB" source="occurred_at" showTime />
      <TextField source="summary" />
      <TextField source="recorded_by" />
      <BooleanField source="private" />
    </SimpleShowLayout>
  </Show>
);

export const InteractionCreate = () => (
  <Create redirect="show">
    <SimpleForm defaultValues={{ kind: "visit", occurred_at: new Date().toISOString().slice(0, 16) }}>
      <ReferenceInput source="partner_id" reference="partners" sort={{ field: "name", order: "ASC" }}>
        <AutocompleteInput optionText="name" label="Partner" fullWidth />
      </ReferenceInput>
      <SelectInput source="kind" choices={KINDS} />
      <TextInput source="occurred_at" label="When" type="datetime-local" parse={(v: string) => (v ? new Date(v).toISOString() : v)} />
      <TextInput source="summary" multiline minRows={3} fullWidth />
      <BooleanInput source="private" label="Private to our staff" />
    </SimpleForm>
  </Create>
);

// Updates and replies ---------------------------------------------------------------------

export const UpdateList = () => (
  <List empty={false} sort={{ field: "sent_at", order: "DESC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <DateField locales="en-GB" source="sent_at" label="Sent" />
      <PartnerName label="Partner" />
      <TextField source="what_changed" label="What has changed" />
      <NumberField source="reply_count" label="Replies" />
    </Datagrid>
  </List>
);

export function Replies({ side }: { side: "funder" | "partner" }) {
  const record = useRecordContext<Rec>();
  if (!record) return null;
  return (
    <Read<Rec[]> path={`/updates/${record.id}/replies`}>
      {(replies, reload) => (
        <Box>
          <Typography variant="h6" component="h2">
            Conversation
          </Typography>
          {replies.length === 0 ? <Typography>No replies yet.</Typography> : null}
          {replies.map((r) => (
            <Box key={r.id} sx={{ borderLeft: 3, borderColor: r.author_side === "funder" ? "primary.main" : "secondary.main", pl: 1.5, my: 1 }}>
              <Typography variant="body2" color="text.secondary">
                {r.author_side === "funder" ? "Funder" : "Partner"}
                {r.author ? ` (${r.author})` : ""} — {when(r.created_at)}
              </Typography>
              <Typography sx={{ whiteSpace: "pre-wrap" }}>{r.body}</Typography>
            </Box>
          ))}
          <ActionForm
            title={side === "funder" ? "Reply to this update" : "Continue the conversation"}
            path={`/updates/${record.id}/replies`}
            fields={[{ name: "body", label: "Your reply", type: "multiline" }]}
            submit="Send reply"
            onDone={reload}
          />
        </Box>
      )}
    </Read>
  );
}

export const UpdateShow = () => (
  <Show title="An update from a partner">
    <SimpleShowLayout>
      <PartnerName label="Partner" />
      <DateField locales="en-GB" source="sent_at" label="Sent" showTime />
      <TextField source="sent_by" />
      <TextField source="what_changed" label="What has changed" />
      <TextField source="what_we_learned" label="What we have learned" />
      <TextField source="what_was_hard" label="What has been hard" />
      <TextField source="want_you_to_know" label="What we want you to know" />
      <Replies side="funder" />
      <Themes kind="update" />
    </SimpleShowLayout>
  </Show>
);

const GRANT_STATUS = ["proposed", "approved", "active", "completed", "withdrawn"].map((x) => ({ id: x, name: x }));

// Grants ----------------------------------------------------------------------------------

export const GrantList = () => (
  <List empty={false} sort={{ field: "created_at", order: "DESC" }} filters={[<SelectInput key="status" source="status" choices={GRANT_STATUS} alwaysOn />]}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <TextField source="reference" />
      <TextField source="title" />
      <PartnerName label="Partner" />
      <Money source="amount_awarded" label="Award" />
      <ChipField source="status" />
    </Datagrid>
  </List>
);

function GrantActions() {
  const g = useRecordContext<Rec>();
  if (!g) return null;
  if (g.status === "proposed") {
    return (
      <ActionForm
        title="Approve with a decision"
        path={`/grants/${g.id}/approve`}
        submit="Approve the grant"
        fields={[
          { name: "decided_on", label: "Decided on", type: "date", initial: today() },
          { name: "decided_by", label: "Who decided", initial: "Board of trustees" },
          { name: "reference", label: "Minute or paper reference" },
        ]}
      />
    );
  }
  return null;
}

function Schedule() {
  const g = useRecordContext<Rec>();
  if (!g || g.status === "proposed" || g.status === "withdrawn") return null;
  return (
    <Read<Rec> key={g.status} path={`/grants/${g.id}/schedule`}>
      {(s, reload) => (
        <Box>
          <Typography variant="h6" component="h2">
            Schedule and payments
          </Typography>
          <Typography>
            Paid {money(s.amount_paid, s.currency)} of {money(s.amount_awarded, s.currency)}.
          </Typography>
          <DataTable
            label="Instalments"
            headers={["#", "Due", "Amount", "Status"]}
            rows={s.instalments.map((i: Rec) => ({
              key: i.id,
              cells: [
                i.sequence,
                when(i.due_date),
                money(i.amount, i.currency),
                `${i.status}${i.overdue ? " (overdue)" : ""}${i.paid_on ? ` on ${when(i.paid_on)}` : ""}`,
              ],
            }))}
          />
          {(() => {
            const next = s.instalments.find((i: Rec) => i.status === "scheduled");
            return next ? (
              <ActionForm
                title={`Pay instalment ${next.sequence} (${money(next.amount, next.currency)})`}
                path="/payments"
                submit="Record the payment"
                fields={[
                  { name: "paid_on", label: "Paid on", type: "date", initial: today() },
                  { name: "reference", label: "Payment reference", required: false },
                ]}
                toBody={(v) => ({ instalment_id: next.id, paid_on: v.paid_on, ...(v.reference ? { reference: v.reference } : {}) })}
                onDone={reload}
              />
            ) : null;
          })()}
        </Box>
      )}
    </Read>
  );
}

function History() {
  const g = useRecordContext<Rec>();
  if (!g) return null;
  return (
    <Read<Rec> path={`/grants/${g.id}/history`}>
      {(h) => (
        <Box>
          <Typography variant="h6" component="h2">
            History
          </Typography>
          <Box component="ol" sx={{ pl: 2 }}>
            {(h.events ?? h.entries ?? []).map((e: Rec, n: number) => (
              <li key={e.id ?? n}>
                <Typography>
                  {when(e.at ?? e.on ?? e.created_at)} — {e.kind ?? e.event ?? e.type}
                  {e.summary ? `: ${e.summary}` : ""}
                </Typography>
              </li>
            ))}
          </Box>
        </Box>
      )}
    </Read>
  );
}

export const GrantShow = () => (
  <Show>
    <SimpleShowLayout>
      <TextField source="title" />
      <PartnerName label="Partner" />
      <TextField source="reference" />
      <ChipField source="status" />
      <Money source="amount_awarded" label="Award" />
      <DateField locales="en-GB" source="planned_start_date" label="Starts" />
      <DateField locales="en-GB" source="planned_end_date" label="Ends" />
      <TextField source="payment_frequency" label="Payments" />
      <TextField source="approved_by" label="Decided by" emptyText="—" />
      <TextField source="decision_reference" label="Decision reference" emptyText="—" />
      <TextField source="description" />
      <GrantActions />
      <Schedule />
      <ReferenceManyField reference="variations" target="grant_id" label="Variations" sort={{ field: "decided_on", order: "DESC" }}>
        <Datagrid bulkActionButtons={false} empty={<Typography>No variations.</Typography>}>
          <TextField source="kind" />
          <DateField locales="en-GB" source="decided_on" />
          <TextField source="reason" />
        </Datagrid>
      </ReferenceManyField>
      <GrantRequests />
      <History />
    </SimpleShowLayout>
  </Show>
);

export const GrantCreate = () => (
  <Create redirect="show" transform={(d: Rec) => ({ ...d, amount_awarded: toMinor(d.amount_awarded) })}>
    <SimpleForm defaultValues={{ currency: "GBP", payment_frequency: "annual" }}>
      <ReferenceInput source="partner_id" reference="partners" sort={{ field: "name", order: "ASC" }}>
        <AutocompleteInput optionText="name" label="Partner" fullWidth />
      </ReferenceInput>
      <TextInput source="title" fullWidth />
      <TextInput source="description" multiline minRows={3} fullWidth />
      <TextInput source="amount_awarded" label="Award (pounds)" inputMode="decimal" />
      <DateInput source="planned_start_date" label="Starts" />
      <DateInput source="planned_end_date" label="Ends" />
      <SelectInput source="payment_frequency" label="Payments" choices={[{ id: "annual", name: "annual" }, { id: "quarterly", name: "quarterly" }]} />
    </SimpleForm>
  </Create>
);

export const PaymentList = () => (
  <List empty={false} sort={{ field: "paid_on", order: "DESC" }}>
    <Datagrid bulkActionButtons={false}>
      <DateField locales="en-GB" source="paid_on" label="Paid on" />
      <ReferenceField source="grant_id" reference="grants" link="show" label="Grant">
        <TextField source="title" />
      </ReferenceField>
      <Money source="amount" />
      <TextField source="reference" />
    </Datagrid>
  </List>
);

// Threads ---------------------------------------------------------------------------------

export const ThreadList = () => (
  <List empty={false} sort={{ field: "last_message_at", order: "DESC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <TextField source="subject" />
      <TextField source="partner_name" label="Partner" />
      <DateField locales="en-GB" source="last_message_at" label="Last message" />
    </Datagrid>
  </List>
);

function Messages() {
  const t = useRecordContext<Rec>();
  if (!t) return null;
  return (
    <Read<Rec[]> path={`/threads/${t.id}/messages`}>
      {(messages, reload) => (
        <Box>
          {messages.map((m) => (
            <Box key={m.id} sx={{ borderLeft: 3, borderColor: m.author_role === "funder" ? "primary.main" : "secondary.main", pl: 1.5, my: 1 }}>
              <Typography variant="body2" color="text.secondary">
                {m.author} — {when(m.created_at)}
              </Typography>
              <Typography sx={{ whiteSpace: "pre-wrap" }}>{m.body}</Typography>
            </Box>
          ))}
          <ActionForm title="Write in this thread" path={`/threads/${t.id}/messages`} fields={[{ name: "body", label: "Message", type: "multiline" }]} submit="Send" onDone={reload} />
        </Box>
      )}
    </Read>
  );
}

export const ThreadShow = () => (
  <Show>
    <SimpleShowLayout>
      <TextField source="subject" />
      <TextField source="partner_name" label="Partner" />
      <Messages />
    </SimpleShowLayout>
  </Show>
);

/** For a partner's person: the funders the organisation works with, by name. */
function FunderChoice() {
  const { permissions } = usePermissions<Acting>();
  const { data } = useRead<Rec[]>(permissions?.partnerId ? `/partners/${permissions.partnerId}/sharing` : null);
  return (
    <SelectInput
      source="funder_id"
      label="Funder"
      choices={(data ?? []).map((f) => ({ id: f.funder_id, name: f.funder_name }))}
      isPending={data === null}
    />
  );
}

export const ThreadCreate = ({ partner }: { partner?: boolean }) => (
  <Create redirect="show">
    <SimpleForm>
      {partner ? (
        <FunderChoice />
      ) : (
        <ReferenceInput source="partner_id" reference="partners" sort={{ field: "name", order: "ASC" }}>
          <AutocompleteInput optionText="name" label="Partner" />
        </ReferenceInput>
      )}
      <TextInput source="subject" fullWidth />
      <TextInput source="body" label="Message" multiline minRows={3} fullWidth />
    </SimpleForm>
  </Create>
);

export function NotFoundNote() {
  return <Alert severity="info">Nothing here.</Alert>;
}
