// Screens for a partner organisation's people.
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
  Radio,
  RadioGroup,
  TextField as MTextField,
  Typography,
} from "@mui/material";
import {
  ChipField,
  Create,
  Datagrid,
  Edit,
  DateField,
  FunctionField,
  List,
  SelectInput,
  Show,
  SimpleForm,
  SimpleShowLayout,
  TextField,
  TextInput,
  useDataProvider,
  useNotify,
  usePermissions,
  useRecordContext,
  useRedirect,
} from "react-admin";
import { currentUser, type Acting } from "./auth";
import { cast, keepBallot, keptBallot, takeBallot, type Ballot } from "./ballot";
import type { TrellisDataProvider } from "./data";
import { PageTitle, Section, when } from "./common";
import { Replies } from "./staff";
import { ActionForm, FormFoot, Read } from "./widgets";

import { ContactsGrid, DocumentsGrid, GrantsGrid, type Rec } from "./lists";
import { BankDetailsForPartner } from "./bank";

export function PartnerHome() {
  const { permissions } = usePermissions<Acting>();
  const id = permissions?.partnerId;
  if (!id) return null;
  return (
    <main>
      <PageTitle>Your organisation</PageTitle>
      <Read<Rec> path={`/partners/${id}`}>
        {(p) => (
          <Section title={p.name}>
            <Typography>{p.description}</Typography>
            <Typography>
              <MLink component={Link} to={`/partners/${id}/show`}>
                Your organisation's details
              </MLink>
            </Typography>
          </Section>
        )}
      </Read>
      <Read<Rec[]> path={`/partners/${id}/sharing`}>
        {(funders, reload) => (
          <Section title="Funders you work with">
            {funders.map((f) => (
              <Box key={f.id} sx={{ mb: 1 }}>
                <Typography>
                  {f.funder_name}:{" "}
                  {f.sharing === "pending"
                    ? "asks to see your contacts, documents and description"
                    : f.sharing === "accepted"
                      ? "you share your organisation's records with it"
                      : "you do not share your organisation's records with it"}
                </Typography>
                {f.sharing === "pending" ? <SharingButtons partnerId={id} funder={f} onDone={reload} /> : null}
              </Box>
            ))}
            <MButton component={Link} to="/updates/create" variant="contained" sx={{ mt: 1 }}>
              Send an update
            </MButton>
          </Section>
        )}
      </Read>
      <Read<Rec[]> path={`/rounds?filter=${encodeURIComponent(JSON.stringify({ status: "open" }))}`}>
        {(rounds) => (
          <Section title="Feedback rounds open to you">
            {rounds.length === 0 ? <Typography>None open now.</Typography> : null}
            {rounds.map((r) => (
              <Typography key={r.id}>
                <MLink component={Link} to={`/rounds/${r.id}/show`}>
                  {r.title}
                </MLink>{" "}
                closes {when(r.closes_on)}
                {r.answered ? " (you answered)" : ""}
              </Typography>
            ))}
          </Section>
        )}
      </Read>
    </main>
  );
}

function SharingButtons({ partnerId, funder, onDone }: { partnerId: string; funder: Rec; onDone: () => void }) {
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  const answer = async (sharing: "accepted" | "declined") => {
    try {
      await dp.update(`partners/${partnerId}/sharing`, { id: funder.id, data: { sharing }, previousData: funder });
      notify(sharing === "accepted" ? `You now share with ${funder.funder_name}` : `You declined ${funder.funder_name}`, { type: "success" });
      onDone();
    } catch (e) {
      notify((e as Error).message, { type: "error" });
    }
  };
  return (
    <Box>
      <MButton size="small" variant="outlined" onClick={() => answer("accepted")} sx={{ mr: 1 }}>
        Share with {funder.funder_name}
      </MButton>
      <MButton size="small" onClick={() => answer("declined")}>
        Decline
      </MButton>
    </Box>
  );
}

export const MyOrganisation = () => (
  <Show>
    <SimpleShowLayout>
      <TextField source="name" />
      <TextField source="description" />
      <TextField source="region" />
      <TextField source="website" />
      <TextField source="org_id" label="Org id" />
      <TextField source="charity_number" />
      <ApiClients />
      <BankDetailsForPartner />
    </SimpleShowLayout>
  </Show>
);

function ApiClients() {
  const p = useRecordContext<Rec>();
  const [secret, setSecret] = useState<Rec | null>(null);
  if (!p) return null;
  return (
    <Read<Rec[]> path={`/partners/${p.id}/clients`}>
      {(clients, reload) => (
        <Section title="API clients (for your own systems)">
          {clients.length === 0 ? <Typography>None yet.</Typography> : null}
          {clients.map((c) => (
            <Typography key={c.id}>
              {c.name} — <code>{c.client_id}</code> {c.revoked_at ? "(revoked)" : ""}
            </Typography>
          ))}
          {secret ? (
            <Alert severity="warning" sx={{ my: 1 }}>
              Copy the secret now; it is not shown again: <code>{secret.client_secret}</code>
            </Alert>
          ) : null}
          <ClientForm partnerId={p.id as string} onMade={(c) => (setSecret(c), reload())} />
        </Section>
      )}
    </Read>
  );
}

function ClientForm({ partnerId, onMade }: { partnerId: string; onMade: (c: Rec) => void }) {
  const dp = useDataProvider<TrellisDataProvider>();
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <Box
      component="form"
      sx={{ mt: 1 }}
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          onMade(await dp.act<Rec>(`/partners/${partnerId}/clients`, { name }));
          setName("");
        } catch (err) {
          setError((err as Error).message);
        }
      }}
    >
      <MTextField label="New client's name" value={name} onChange={(e) => setName(e.target.value)} required size="small" />
      <MButton type="submit" sx={{ ml: 1 }}>
        Add a client
      </MButton>
      {error ? <Alert severity="error">{error}</Alert> : null}
    </Box>
  );
}

export const ContactList = () => (
  <List empty={false}>
    <ContactsGrid rowClick="edit" />
  </List>
);

const ContactForm = () => (
  <SimpleForm>
    <TextInput source="name" />
    <TextInput source="role" />
    <TextInput source="email" type="email" />
    <TextInput source="phone" type="tel" />
  </SimpleForm>
);

/** Changing a contact sends If-Match: a change someone made meanwhile is never overwritten. */
export const ContactEdit = () => (
  <Edit mutationMode="pessimistic" redirect="list">
    <ContactForm />
  </Edit>
);

export const ContactCreate = () => (
  <Create redirect="list">
    <ContactForm />
  </Create>
);

const DOC_KINDS = ["annual_report", "accounts", "strategy", "policy", "other"].map((k) => ({ id: k, name: k.replace("_", " ") }));

export const DocumentList = () => (
  <List empty={false}>
    <DocumentsGrid />
  </List>
);

export const DocumentCreate = () => (
  <Create redirect="list">
    <SimpleForm>
      <TextInput source="title" fullWidth />
      <SelectInput source="kind" choices={DOC_KINDS} />
      <TextInput source="year" type="number" parse={(v: string) => (v ? Number(v) : null)} />
      <TextInput source="url" type="url" fullWidth />
    </SimpleForm>
  </Create>
);

/** Send a reflective update to one or several of the funders the organisation works with. */
export function PartnerUpdateCreate() {
  const { permissions } = usePermissions<Acting>();
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  const redirect = useRedirect();
  const [chosen, setChosen] = useState<string[]>([]);
  const [text, setText] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const id = permissions?.partnerId;
  if (!id) return null;
  const prompts: [string, string][] = [
    ["what_changed", "What has changed"],
    ["what_we_learned", "What we have learned"],
    ["what_was_hard", "What has been hard or gone wrong"],
    ["want_you_to_know", "What we want you to know"],
  ];
  return (
    <main>
      <PageTitle>Send an update</PageTitle>
      <Read<Rec[]> path={`/partners/${id}/sharing`}>
        {(funders) => (
          <Box
            component="form"
            sx={{ maxWidth: 640 }}
            onSubmit={async (e) => {
              e.preventDefault();
              setError(null);
              try {
                const body = { funder_ids: chosen, ...Object.fromEntries(Object.entries(text).filter(([, v]) => v)) };
                await dp.act("/updates", body);
                notify("Update sent", { type: "success" });
                redirect("list", "updates");
              } catch (err) {
                setError((err as Error).message);
              }
            }}
          >
            <FormControl component="fieldset" sx={{ mb: 2 }}>
              <FormLabel component="legend">Send it to</FormLabel>
              <FormGroup>
                {funders.map((f) => (
                  <FormControlLabel
                    key={f.funder_id}
                    control={
                      <Checkbox
                        checked={chosen.includes(f.funder_id)}
                        onChange={(ev) =>
                          setChosen(ev.target.checked ? [...chosen, f.funder_id] : chosen.filter((x) => x !== f.funder_id))
                        }
                      />
                    }
                    label={f.funder_name}
                  />
                ))}
              </FormGroup>
            </FormControl>
            {prompts.map(([name, label]) => (
              <MTextField
                key={name}
                id={`update-${name}`}
                label={label}
                multiline
                minRows={3}
                fullWidth
                sx={{ mb: 2 }}
                value={text[name] ?? ""}
                onChange={(ev) => setText({ ...text, [name]: ev.target.value })}
              />
            ))}
            <FormFoot error={error} submit="Send the update" disabled={chosen.length === 0} />
          </Box>
        )}
      </Read>
    </main>
  );
}

export const PartnerUpdateList = () => (
  <List empty={false} sort={{ field: "sent_at", order: "DESC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <DateField locales="en-GB" source="sent_at" label="Sent" />
      <TextField source="what_changed" label="What has changed" />
      <TextField source="reply_count" label="Replies" />
    </Datagrid>
  </List>
);

export const PartnerUpdateShow = () => (
  <Show title="Your update">
    <SimpleShowLayout>
      <DateField locales="en-GB" source="sent_at" label="Sent" showTime />
      <TextField source="what_changed" label="What has changed" />
      <TextField source="what_we_learned" label="What we have learned" />
      <TextField source="what_was_hard" label="What has been hard" />
      <TextField source="want_you_to_know" label="What we want you to know" />
      <Replies side="partner" />
    </SimpleShowLayout>
  </Show>
);

export const PartnerGrantList = () => (
  <List empty={false}>
    <GrantsGrid />
  </List>
);

export const PartnerRoundList = () => (
  <List empty={false} sort={{ field: "closes_on", order: "DESC" }}>
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <TextField source="title" />
      <DateField locales="en-GB" source="closes_on" label="Closes" />
      <ChipField source="status" />
      <FunctionField label="You" render={(r: Rec) => (r.answered ? "answered" : "not yet")} />
    </Datagrid>
  </List>
);

const RATINGS: [string, string][] = [
  ["1", "1 poorly"],
  ["2", "2"],
  ["3", "3"],
  ["4", "4"],
  ["5", "5 very well"],
  ["dont_know", "Don't know"],
];

function AnswerRound() {
  const r = useRecordContext<Rec>();
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  const [ratings, setRatings] = useState<Record<string, string>>({});
  const [comment, setComment] = useState("");
  const [how, setHow] = useState<"anonymous" | "named">("anonymous");
  const [ballot, setBallot] = useState<Ballot | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<"named" | "anonymous" | null>(null);
  if (!r) return null;
  if (sent === "anonymous")
    return (
      <Alert severity="success">
        Your anonymous answer is in. Thank you. This device keeps its ballot, the only way to read or change that answer while the round is
        open.
      </Alert>
    );
  if (r.answered || sent) return <Alert severity="success">You have answered this round. Thank you.</Alert>;
  if (r.status !== "open") return <Typography>This round is {r.status}.</Typography>;
  // Take the ballot when the person chooses to answer anonymously, not when they send:
  // taking and casting in the same second could be paired by whoever watches the server.
  const prepareBallot = async () => {
    const kept = keptBallot(r.id as string);
    if (kept) return setBallot(kept);
    const user = await currentUser();
    if (!user) throw new Error("Sign in again to take your ballot.");
    const taken = await takeBallot(r.id as string, user.access_token);
    keepBallot(taken);
    setBallot(taken);
  };
  return (
    <Box
      component="form"
      sx={{ maxWidth: 640 }}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        const unrated = (r.commitments as Rec[]).find((c) => !ratings[c.commitment_id]);
        if (unrated) {
          setError(`Choose an answer for "${unrated.title}" (or Don't know).`);
          return;
        }
        const answer = {
          ratings: (r.commitments as Rec[]).map((c) => ({
            commitment_id: c.commitment_id,
            rating: ratings[c.commitment_id] === "dont_know" ? "dont_know" : Number(ratings[c.commitment_id]),
          })),
          ...(comment ? { comment } : {}),
        };
        try {
          if (how === "anonymous") {
            const mine = ballot ?? keptBallot(r.id as string);
            if (!mine) throw new Error("Your ballot is not ready yet; wait a moment and send again.");
            await cast(mine, answer);
          } else {
            await dp.act(`/rounds/${r.id}/responses`, answer);
          }
          setSent(how);
          notify("Thank you: your answer is in", { type: "success" });
        } catch (err) {
          setError((err as Error).message);
        }
      }}
    >
      <Typography variant="h6" component="h2">
        How well does this funder keep its commitments?
      </Typography>
      <FormControl component="fieldset" sx={{ my: 1 }}>
        <FormLabel component="legend">How do you want to answer?</FormLabel>
        <RadioGroup
          value={how}
          onChange={(e) => {
            setHow(e.target.value as "anonymous" | "named");
            setError(null);
          }}
        >
          <FormControlLabel value="anonymous" control={<Radio />} label="Anonymously: the funder cannot tell which answer is yours" />
          <FormControlLabel value="named" control={<Radio />} label="Named: the funder sees who said it" />
        </RadioGroup>
      </FormControl>
      {how === "anonymous" && !ballot ? (
        <Box sx={{ mb: 2 }}>
          <MButton variant="outlined" onClick={() => prepareBallot().catch((err: Error) => setError(err.message))}>
            Take my anonymous ballot
          </MButton>
          <Typography variant="body2" sx={{ mt: 0.5 }}>
            Take it now and answer when you are ready: Trellis records only that your organisation took a ballot.
          </Typography>
        </Box>
      ) : null}
      {how === "anonymous" && ballot ? (
        <Alert severity="info" sx={{ mb: 2 }}>
          Your ballot is ready and kept on this device.
        </Alert>
      ) : null}
      <Typography variant="body2" sx={{ mb: 2 }}>
        Figures are shown only once enough partners answer, so nobody can be picked out.
      </Typography>
      {(r.commitments as Rec[]).map((c) => (
        <FormControl key={c.commitment_id} component="fieldset" required sx={{ mb: 2, display: "block" }}>
          <FormLabel component="legend">{c.title}</FormLabel>
          {c.description ? <Typography variant="body2">{c.description}</Typography> : null}
          <RadioGroup row value={ratings[c.commitment_id] ?? ""} onChange={(e) => setRatings({ ...ratings, [c.commitment_id]: e.target.value })}>
            {RATINGS.map(([value, label]) => (
              <FormControlLabel key={value} value={value} control={<Radio />} label={label} />
            ))}
          </RadioGroup>
        </FormControl>
      ))}
      <MTextField label="Anything else (optional)" multiline minRows={3} fullWidth value={comment} onChange={(e) => setComment(e.target.value)} />
      <FormFoot error={error} submit="Send my answer" disabled={how === "anonymous" && !ballot} />
    </Box>
  );
}

export const PartnerRoundShow = () => (
  <Show>
    <SimpleShowLayout>
      <TextField source="title" />
      <TextField source="description" />
      <DateField locales="en-GB" source="closes_on" label="Closes" />
      <TextField source="answer" label="The funder's answer" emptyText="Not published yet" />
      <AnswerRound />
    </SimpleShowLayout>
  </Show>
);

export { ActionForm };
