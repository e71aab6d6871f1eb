// Webhooks: a funder's staff or a partner's people register an HTTPS endpoint of their own
// system, read its deliveries log, send a delivery again and rotate the signing secret.
import { useState } from "react";
import { Link } from "react-router-dom";
import {
  Alert,
  Box,
  Button as MButton,
  Checkbox,
  FormControl,
  FormControlLabel,
  FormGroup,
  FormLabel,
  Link as MLink,
  TextField as MTextField,
  Typography,
} from "@mui/material";
import {
  BooleanField,
  BooleanInput,
  CheckboxGroupInput,
  Datagrid,
  DateField,
  Edit,
  FunctionField,
  List,
  Show,
  SimpleForm,
  SimpleShowLayout,
  TextField,
  TextInput,
  useDataProvider,
  useNotify,
  useRecordContext,
} from "react-admin";
import { PageTitle, when } from "./common";
import type { TrellisDataProvider } from "./data";
import type { Rec } from "./lists";
import { DataTable, FormFoot, Read } from "./widgets";

const EVENTS: [string, string][] = [
  ["update.received", "A reflective update arrives"],
  ["update.replied", "Someone replies to an update"],
  ["thread.message", "A message in a thread"],
  ["grant.approved", "A grant is approved"],
  ["instalment.paid", "An instalment is paid"],
  ["round.opened", "A feedback round opens"],
];

export const WebhookList = () => (
  <List exporter={false} empty={false} sort={{ field: "created_at", order: "DESC" }} title="Webhooks">
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <TextField source="url" label="Endpoint" />
      <FunctionField label="Events" render={(w: Rec) => (w.event_types as string[]).join(", ")} />
      <BooleanField source="enabled" />
      <DateField locales="en-GB" source="created_at" label="Registered" />
    </Datagrid>
  </List>
);

function Secret({ secret }: { secret: string }) {
  return (
    <Alert severity="warning" sx={{ my: 1, wordBreak: "break-all" }}>
      Copy the signing secret now; it is not shown again: <code>{secret}</code>
    </Alert>
  );
}

/** Register an endpoint; the signing secret is shown once, here. */
export function WebhookCreate() {
  const dp = useDataProvider<TrellisDataProvider>();
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<string[]>(["update.received"]);
  const [made, setMade] = useState<Rec | null>(null);
  const [error, setError] = useState<string | null>(null);
  return (
    <main>
      <PageTitle>Register a webhook</PageTitle>
      {made ? (
        <Box>
          <Alert severity="success">Registered {made.url}.</Alert>
          <Secret secret={made.secret} />
          <MLink component={Link} to={`/webhooks/${made.id}/show`}>
            Open the webhook and its deliveries
          </MLink>
        </Box>
      ) : (
        <Box
          component="form"
          sx={{ maxWidth: 640 }}
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              const { data } = await dp.create("webhooks", {
                data: { url, event_types: events, ...(description ? { description } : {}) },
              });
              setMade(data);
            } catch (err) {
              setError((err as Error).message);
            }
          }}
        >
          <Typography sx={{ mb: 2 }}>
            Trellis sends each event as a signed POST (Standard Webhooks) to an HTTPS address of your own system.
          </Typography>
          <MTextField id="webhook-url" label="Endpoint URL (https://…)" type="url" required fullWidth value={url} onChange={(e) => setUrl(e.target.value)} sx={{ mb: 2 }} />
          <MTextField id="webhook-description" label="What it is for (optional)" fullWidth value={description} onChange={(e) => setDescription(e.target.value)} sx={{ mb: 2 }} />
          <FormControl component="fieldset">
            <FormLabel component="legend">Send these events</FormLabel>
            <FormGroup>
              {EVENTS.map(([id, label]) => (
                <FormControlLabel
                  key={id}
                  label={`${label} (${id})`}
                  control={
                    <Checkbox
                      checked={events.includes(id)}
                      onChange={(ev) => setEvents(ev.target.checked ? [...events, id] : events.filter((x) => x !== id))}
                    />
                  }
                />
              ))}
            </FormGroup>
          </FormControl>
          <FormFoot error={error} submit="Register the webhook" disabled={events.length === 0} />
        </Box>
      )}
    </main>
  );
}

function Deliveries() {
  const w = useRecordContext<Rec>();
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  if (!w) return null;
  return (
    <Read<Rec[]> path={`/webhooks/${w.id}/deliveries?sort=${encodeURIComponent('["created_at","DESC"]')}&range=${encodeURIComponent("[0,49]")}`}>
      {(deliveries, reload) => (
        <Box>
          <Typography variant="h6" component="h2">
            Deliveries
          </Typography>
          {deliveries.length === 0 ? <Typography>None yet: events are sent as they happen.</Typography> : null}
          {deliveries.length > 0 ? (
            <DataTable
              label="Deliveries"
              headers={["Event", "Status", "Attempts", "Last answer", "When", "Action"]}
              rows={deliveries.map((d) => ({
                key: d.id,
                cells: [
                  d.event_type,
                  d.status,
                  d.attempts,
                  d.last_status_code ?? d.last_error ?? "—",
                  when(d.delivered_at ?? d.last_attempt_at ?? d.created_at),
                  <MButton
                    size="small"
                    aria-label={`Send again: the ${d.event_type} delivery`}
                    onClick={async () => {
                      try {
                        await dp.act(`/webhooks/${w.id}/deliveries/${d.id}/redeliver`, {});
                        notify("Sent again", { type: "success" });
                        reload();
                      } catch (e) {
                        notify((e as Error).message, { type: "error" });
                      }
                    }}
                  >
                    Send again
                  </MButton>,
                ],
              }))}
            />
          ) : null}
          <MButton onClick={reload} sx={{ mt: 1 }}>
            Read the log again
          </MButton>
        </Box>
      )}
    </Read>
  );
}

function RotateSecret() {
  const w = useRecordContext<Rec>();
  const dp = useDataProvider<TrellisDataProvider>();
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!w) return null;
  return (
    <Box sx={{ my: 2 }}>
      <Typography variant="h6" component="h2">
        Signing secret
      </Typography>
      <Typography variant="body2">
        A new secret replaces the old one; for a day both sign every delivery, so your system can switch at its own pace.
      </Typography>
      {secret ? <Secret secret={secret} /> : null}
      {error ? <Alert severity="error">{error}</Alert> : null}
      <MButton
        variant="outlined"
        sx={{ mt: 1 }}
        onClick={() =>
          dp.act<Rec>(`/webhooks/${w.id}/rotate-secret`, {}).then(
            (r) => setSecret(r.secret),
            (e: Error) => setError(e.message),
          )
        }
      >
        Make a new secret
      </MButton>
    </Box>
  );
}

export const WebhookShow = () => (
  <Show title="A webhook">
    <SimpleShowLayout>
      <TextField source="url" label="Endpoint" />
      <TextField source="description" emptyText="—" />
      <FunctionField label="Events" render={(w: Rec) => (w.event_types as string[]).join(", ")} />
      <BooleanField source="enabled" />
      <TextField source="disabled_reason" label="Why it was turned off" emptyText="—" />
      <TextField source="registered_by" label="Registered by" />
      <RotateSecret />
      <Deliveries />
    </SimpleShowLayout>
  </Show>
);

export const WebhookEdit = () => (
  <Edit mutationMode="pessimistic" redirect="show" transform={(d: Rec) => ({ url: d.url, event_types: d.event_types, description: d.description, enabled: d.enabled })}>
    <SimpleForm>
      <TextInput source="url" label="Endpoint URL" fullWidth />
      <TextInput source="description" fullWidth />
      <CheckboxGroupInput source="event_types" label="Events" choices={EVENTS.map(([id, name]) => ({ id, name }))} row={false} />
      <BooleanInput source="enabled" label="Send deliveries (turn on again after failures)" />
    </SimpleForm>
  </Edit>
);
