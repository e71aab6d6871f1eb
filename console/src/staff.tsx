// Screens for a funder's staff: react-admin resources over the API as any client sees it.
import { Link } from "react-router-dom";
import { Alert, Box, Button as MButton, Link as MLink, Table, TableBody, TableCell, TableHead, TableRow, Typography } from "@mui/material";
import {
  ArrayField,
  AutocompleteInput,
  BooleanField,
  BooleanInput,
  ChipField,
  Create,
  Datagrid,
  DateField,
  DateInput,
  FunctionField,
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
import { money } from "./data";
import { Section, SectionStatus, Withheld, today, when } from "./common";
import { ActionForm, Read, useRead } from "./widgets";
import type { Acting } from "./auth";

type Rec = Record<string, any>;

const Money = ({ source, label }: { source: string; label?: string }) => (
  <FunctionField label={label ?? "Amount"} render={(r: Rec) => money(r[source], r.currency)} />
);

const PartnerName = ({ source = "partner_id" }: { source?: string; label?: string }) => (
  <ReferenceField source={source} reference="partners" link="show" label="Partner">
    <TextField source="name" />
  </ReferenceField>
);

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
          <Datagrid bulkActionButtons={false} rowClick="show">
            <TextField source="title" />
            <Money source="amount_awarded" />
            <ChipField source="status" />
          </Datagrid>
        </ReferenceManyField>
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Documents" path="documents">
        <ReferenceManyField reference="documents" target="partner_id" label={false} sort={{ field: "year", order: "DESC" }}>
          <Datagrid bulkActionButtons={false}>
            <TextField source="title" />
            <TextField source="kind" />
            <TextField source="year" />
            <FunctionField label="Link" render={(d: Rec) => <MLink href={d.url}>Open {d.title}</MLink>} />
          </Datagrid>
        </ReferenceManyField>
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Contacts" path="contacts">
        <ReferenceManyField reference="contacts" target="partner_id" label={false} sort={{ field: "name", order: "ASC" }}>
          <Datagrid bulkActionButtons={false}>
            <TextField source="name" />
            <TextField source="role" />
            <TextField source="email" />
            <TextField source="phone" />
          </Datagrid>
        </ReferenceManyField>
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
      <PartnerName />
      <TextField source="kind" />
      <TextField source="summary" />
    </Datagrid>
  </List>
);

export const InteractionShow = () => (
  <Show title="A visit, call or meeting">
    <SimpleShowLayout>
      <PartnerName />
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
      <PartnerName />
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
      <PartnerName />
      <DateField locales="en-GB" source="sent_at" label="Sent" showTime />
      <TextField source="sent_by" />
      <TextField source="what_changed" label="What has changed" />
      <TextField source="what_we_learned" label="What we have learned" />
      <TextField source="what_was_hard" label="What has been hard" />
      <TextField source="want_you_to_know" label="What we want you to know" />
      <Replies side="funder" />
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
      <PartnerName />
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
          <Box sx={{ overflowX: "auto" }} tabIndex={0} role="region" aria-label="Instalments table">
            <Table size="small" aria-label="Instalments">
              <TableHead>
                <TableRow>
                  <TableCell>#</TableCell>
                  <TableCell>Due</TableCell>
                  <TableCell>Amount</TableCell>
                  <TableCell>Status</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {s.instalments.map((i: Rec) => (
                  <TableRow key={i.id}>
                    <TableCell>{i.sequence}</TableCell>
                    <TableCell>{when(i.due_date)}</TableCell>
                    <TableCell>{money(i.amount, i.currency)}</TableCell>
                    <TableCell>
                      {i.status}
                      {i.overdue ? " (overdue)" : ""}
                      {i.paid_on ? ` on ${when(i.paid_on)}` : ""}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </Box>
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
      <PartnerName />
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
      <History />
    </SimpleShowLayout>
  </Show>
);

export const GrantCreate = () => (
  <Create redirect="show" transform={(d: Rec) => ({ ...d, amount_awarded: Math.round(Number(d.amount_awarded) * 100) })}>
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
    <Box sx={{ overflowX: "auto" }} tabIndex={0} role="region" aria-label="Results table">
      <Table size="small" aria-label="Results">
        <TableHead>
          <TableRow>
            <TableCell>Commitment</TableCell>
            <TableCell>What partners said</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {results.map((r) => (
            <TableRow key={r.id ?? `${r.round_id}-${r.commitment_id}-${r.kind}`}>
              <TableCell>{r.title ?? r.round_title}</TableCell>
              <TableCell>
                {(r.withheld ?? []).length > 0 ? (
                  <Withheld value={null} withheld={r.withheld} />
                ) : (
                  <>
                    Mean {r.mean} of 5 from {r.responses} responses
                    {r.dont_know ? `; ${r.dont_know} did not know` : ""}
                  </>
                )}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Box>
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

export const RoundCreate = () => (
  <Create redirect="show">
    <SimpleForm defaultValues={{ opens_on: today() }}>
      <TextInput source="title" fullWidth />
      <TextInput source="description" multiline minRows={2} fullWidth />
      <DateInput source="opens_on" label="Opens" />
      <DateInput source="closes_on" label="Closes" />
    </SimpleForm>
  </Create>
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

// Pools -----------------------------------------------------------------------------------

export const PoolList = () => (
  <List empty={false} sort={{ field: "name", order: "ASC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <TextField source="name" />
      <TextField source="purpose" />
      <TextField source="my_status" label="Your place" />
    </Datagrid>
  </List>
);

function PoolBooks() {
  const p = useRecordContext<Rec>();
  if (!p) return null;
  return (
    <Box>
      <Read<Rec[]> path={`/pools/${p.id}/members`}>
        {(members) => (
          <Section title="Members">
            {members.map((m) => (
              <Typography key={m.funder_id ?? m.id}>
                {m.funder_name ?? m.funder_id}: {m.status}
              </Typography>
            ))}
          </Section>
        )}
      </Read>
      <Read<Rec> path={`/pools/${p.id}/statement`}>
        {(s) => (
          <Section title="Books">
            <Typography>
              Balance {money(s.balance ?? s.available, p.currency)}; contributed {money(s.contributed, p.currency)}; granted {money(s.granted, p.currency)}.
            </Typography>
          </Section>
        )}
      </Read>
      <Read<Rec[]> path={`/pools/${p.id}/proposals`}>
        {(proposals) => (
          <Section title="Proposals and votes">
            {proposals.length === 0 ? <Typography>None.</Typography> : null}
            {proposals.map((x) => (
              <Typography key={x.id}>
                {x.title ?? x.partner_name ?? "A proposal"} — {x.status}
                {x.amount ? `, ${money(x.amount, p.currency)}` : ""}
              </Typography>
            ))}
          </Section>
        )}
      </Read>
    </Box>
  );
}

export const PoolShow = () => (
  <Show>
    <SimpleShowLayout>
      <TextField source="name" />
      <TextField source="purpose" />
      <TextField source="rule_in_words" label="How it decides" />
      <PoolBooks />
    </SimpleShowLayout>
  </Show>
);

export function NotFoundNote() {
  return <Alert severity="info">Nothing here.</Alert>;
}
