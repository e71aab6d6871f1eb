// A partner's requests to change its grant (extension, reprofile, uplift) in its own words,
// and the funder's answer: a reply (declined or answered) or a variation that decides it.
import { useState, type ReactNode } from "react";
import { Box, MenuItem, Stack, TextField as MTextField, Typography } from "@mui/material";
import {
  ChipField,
  Datagrid,
  DateField,
  FunctionField,
  List,
  NumberField,
  ReferenceField,
  ReferenceManyField,
  SelectInput,
  Show,
  SimpleShowLayout,
  TextField,
  useDataProvider,
  useNotify,
  usePermissions,
  useRecordContext,
  useRefresh,
} from "react-admin";
import type { components } from "./api";
import type { Acting } from "./auth";
import { toMinor, type TrellisDataProvider } from "./data";
import { today } from "./common";
import { PartnerName, type Rec } from "./lists";
import { FormFoot } from "./widgets";

type GrantRequest = components["schemas"]["GrantRequest"];

const KINDS = [
  { id: "extension", name: "Extension (more time)" },
  { id: "reprofile", name: "Reprofile (different payment timing)" },
  { id: "uplift", name: "Uplift (more money)" },
];
const STATUSES = [
  { id: "open", name: "Open" },
  { id: "varied", name: "Varied (a variation answers it)" },
  { id: "declined", name: "Declined" },
  { id: "answered", name: "Answered" },
];

/** A form of a few fields that POSTs once and says what to fix; `toBody` null means "not yet". */
function PostForm({
  title,
  path,
  submit,
  children,
  toBody,
  onDone,
}: {
  title: string;
  path: (() => string) | string;
  submit: string;
  children: ReactNode;
  toBody: () => unknown | string;
  onDone: () => void;
}) {
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = title.replace(/\W+/g, "-").toLowerCase();
  return (
    <Box
      component="form"
      aria-labelledby={id}
      sx={{ my: 2, maxWidth: 560 }}
      onSubmit={async (event) => {
        event.preventDefault();
        setError(null);
        const body = toBody();
        if (typeof body === "string") {
          setError(body);
          return;
        }
        setBusy(true);
        try {
          await dp.act(typeof path === "string" ? path : path(), body);
          notify(`${title}: done`, { type: "success" });
          onDone();
          refresh();
        } catch (e) {
          setError((e as Error).message);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Typography id={id} variant="subtitle1" component="h3">
        {title}
      </Typography>
      <Stack spacing={1.5} sx={{ mt: 1 }}>
        {children}
      </Stack>
      <FormFoot error={error} submit={submit} disabled={busy} />
    </Box>
  );
}

/** A partner's person asks for a change to the grant on its page. */
function AskForChange({ grantId }: { grantId: string }) {
  const [kind, setKind] = useState("extension");
  const [reasons, setReasons] = useState("");
  return (
    <PostForm
      title="Ask for a change to this grant"
      path={`/grants/${grantId}/requests`}
      submit="Send the request"
      toBody={() => (reasons.trim() ? { kind, reasons } : "Say why, in your own words: what has changed for you.")}
      onDone={() => setReasons("")}
    >
      <Typography variant="body2">
        How you spend an unrestricted grant needs no request. Ask here for a change to the grant itself.
      </Typography>
      <MTextField select id="ask-kind" label="What you ask for" value={kind} onChange={(e) => setKind(e.target.value)}>
        {KINDS.map((k) => (
          <MenuItem key={k.id} value={k.id}>
            {k.name}
          </MenuItem>
        ))}
      </MTextField>
      <MTextField
        id="ask-reasons"
        label="Why, in your own words"
        multiline
        minRows={3}
        required
        value={reasons}
        onChange={(e) => setReasons(e.target.value)}
      />
    </PostForm>
  );
}

const RequestColumns = ({ staff }: { staff: boolean }) => [
  staff ? <PartnerName key="partner" label="Partner" /> : null,
  <ReferenceField key="grant" source="grant_id" reference="grants" link="show" label="Grant">
    <TextField source="title" />
  </ReferenceField>,
  <FunctionField key="kind" label="Kind" render={(r: GrantRequest) => r.kind} />,
  <DateField key="at" locales="en-GB" source="requested_at" label="Asked on" />,
  <ChipField key="status" source="status" />,
  <NumberField key="days" source="days_to_decision" label="Days to decide" emptyText="—" />,
];

/** The requests made on one grant, on the grant's page; a partner's person may ask for another. */
export function GrantRequests() {
  const g = useRecordContext<Rec>();
  const { permissions } = usePermissions<Acting>();
  if (!g) return null;
  const partner = permissions?.role === "partner";
  return (
    <Box sx={{ my: 2 }}>
      <Typography variant="h6" component="h2">
        Requests to change this grant
      </Typography>
      <ReferenceManyField reference="grant-requests" target="grant_id" sort={{ field: "requested_at", order: "DESC" }}>
        <Datagrid bulkActionButtons={false} rowClick="show" empty={<Typography>No requests.</Typography>}>
          <TextField source="kind" />
          <DateField locales="en-GB" source="requested_at" label="Asked on" />
          <TextField source="reasons" />
          <ChipField source="status" />
          <TextField source="reply" emptyText="—" />
        </Datagrid>
      </ReferenceManyField>
      {partner && (g.status === "active" || g.status === "approved") ? <AskForChange grantId={String(g.id)} /> : null}
    </Box>
  );
}

export function RequestList() {
  const { permissions } = usePermissions<Acting>();
  const staff = permissions?.role !== "partner";
  return (
    <List
      empty={false}
      exporter={false}
      sort={{ field: "requested_at", order: "DESC" }}
      filters={[
        <SelectInput key="status" source="status" choices={STATUSES} alwaysOn />,
        <SelectInput key="kind" source="kind" choices={KINDS} />,
      ]}
    >
      <Datagrid bulkActionButtons={false} rowClick="show">
        {RequestColumns({ staff })}
      </Datagrid>
    </List>
  );
}

/** Staff answer an open request without a variation: declined (with why) or answered. */
function ReplyForm({ request }: { request: GrantRequest }) {
  const [outcome, setOutcome] = useState("answered");
  const [reply, setReply] = useState("");
  return (
    <PostForm
      title="Reply without a variation"
      path={`/grant-requests/${request.id}/reply`}
      submit="Send the reply"
      toBody={() => (reply.trim() ? { outcome, reply } : "Write the reply to the partner, in plain words.")}
      onDone={() => setReply("")}
    >
      <MTextField select id="reply-outcome" label="Outcome" value={outcome} onChange={(e) => setOutcome(e.target.value)}>
        <MenuItem value="answered">Answered (the reply says what happens next)</MenuItem>
        <MenuItem value="declined">Declined (the reply says why)</MenuItem>
      </MTextField>
      <MTextField id="reply-text" label="Reply to the partner" multiline minRows={3} required value={reply} onChange={(e) => setReply(e.target.value)} />
    </PostForm>
  );
}

/** "2027-03-31 5000.00" a line: the new unpaid schedule of a reprofile, amounts in pounds. */
function parseSchedule(text: string): { due_date: string; amount: number }[] | string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  if (lines.length === 0) return "Write the new schedule: one instalment a line, its date then its amount, e.g. 2027-03-31 5000.00.";
  const out = [];
  for (const line of lines) {
    const [date, amount] = line.split(/\s+/, 2);
    const minor = toMinor(amount);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date ?? "") || minor === null || Number.isNaN(minor)) {
      return `"${line}" is not a date and an amount, e.g. 2027-03-31 5000.00.`;
    }
    out.push({ due_date: date, amount: minor });
  }
  return out;
}

/** Staff record the variation that answers the request (decided as varied with it). */
function VariationForm({ request }: { request: GrantRequest }) {
  const [v, setV] = useState<Record<string, string>>({
    decided_on: today(),
    decided_by: "",
    reference: "",
    planned_end_date: "",
    amount: "",
    schedule: "",
    reason: "",
  });
  const field = (name: string, label: string, type = "text", multiline = false) => (
    <MTextField
      id={`variation-${name}`}
      label={label}
      type={type}
      multiline={multiline}
      minRows={multiline ? 3 : undefined}
      value={v[name]}
      onChange={(e) => setV({ ...v, [name]: e.target.value })}
      slotProps={{ inputLabel: { shrink: true } }}
    />
  );
  return (
    <PostForm
      title={`Record the ${request.kind} as a variation`}
      path={`/grants/${request.grant_id}/variations`}
      submit="Record the variation"
      toBody={() => {
        if (!v.decided_by || !v.reference) return "Say who decided and the minute or paper reference.";
        const body: Rec = {
          kind: request.kind,
          decided_on: v.decided_on,
          decided_by: v.decided_by,
          reference: v.reference,
          request_id: request.id,
        };
        if (v.reason) body.reason = v.reason;
        if (request.kind === "extension") {
          if (!v.planned_end_date) return "Give the grant's new end date.";
          body.planned_end_date = v.planned_end_date;
        } else if (request.kind === "uplift") {
          const minor = toMinor(v.amount);
          if (minor === null || Number.isNaN(minor)) return "Give by how much the award goes up, in pounds, e.g. 2500.00.";
          body.amount = minor;
        } else {
          const schedule = parseSchedule(v.schedule);
          if (typeof schedule === "string") return schedule;
          body.instalments = schedule;
        }
        return body;
      }}
      onDone={() => undefined}
    >
      {field("decided_on", "Decided on", "date")}
      {field("decided_by", "Who decided")}
      {field("reference", "Minute or paper reference")}
      {request.kind === "extension" ? field("planned_end_date", "New end date", "date") : null}
      {request.kind === "uplift" ? field("amount", "Uplift (pounds)") : null}
      {request.kind === "reprofile" ? field("schedule", "New unpaid schedule: one instalment a line, date then pounds", "text", true) : null}
      {field("reason", "Why, in plain words", "text", true)}
    </PostForm>
  );
}

function Answer() {
  const r = useRecordContext<GrantRequest>();
  const { permissions } = usePermissions<Acting>();
  if (!r || r.status !== "open" || permissions?.role === "partner") return null;
  return (
    <Box>
      <VariationForm request={r} />
      <ReplyForm request={r} />
    </Box>
  );
}

export const RequestShow = () => (
  <Show>
    <SimpleShowLayout>
      <ReferenceField source="grant_id" reference="grants" link="show" label="Grant">
        <TextField source="title" />
      </ReferenceField>
      <TextField source="kind" />
      <TextField source="reasons" label="Reasons, in the partner's words" />
      <TextField source="requested_by" label="Asked by" />
      <DateField locales="en-GB" source="requested_at" label="Asked on" />
      <ChipField source="status" />
      <TextField source="reply" emptyText="—" />
      <DateField locales="en-GB" source="decided_at" label="Decided on" emptyText="—" />
      <NumberField source="days_to_decision" label="Days to decide" emptyText="—" />
      <Answer />
    </SimpleShowLayout>
  </Show>
);
