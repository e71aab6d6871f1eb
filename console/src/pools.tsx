// Pooled funds: members, the books from the pool's statement, and proposals with the
// member funders' votes (for, against or abstaining; the pool's rule then decides).
import { useState } from "react";
import { Box, FormControl, FormControlLabel, FormLabel, Radio, RadioGroup, TextField as MTextField, Typography } from "@mui/material";
import { Datagrid, List, Show, SimpleShowLayout, TextField, useDataProvider, useNotify, usePermissions, useRecordContext } from "react-admin";
import type { Acting } from "./auth";
import { Section, when } from "./common";
import { money, type TrellisDataProvider } from "./data";
import type { Rec } from "./lists";
import { FormFoot, Read } from "./widgets";

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
  const { permissions } = usePermissions<Acting>();
  if (!p) return null;
  return (
    <Box>
      <Read<Rec[]> path={`/pools/${p.id}/members`}>
        {(members) => (
          <Section title="Members">
            {members.map((m) => (
              <Typography key={m.id}>
                {m.funder_id === permissions?.funderId ? "Your funder" : "Another member funder"}
                {m.is_host ? " (hosts the pool)" : ""}: {m.status}
                {m.joined_at ? `, since ${when(m.joined_at)}` : ""}
              </Typography>
            ))}
          </Section>
        )}
      </Read>
      <Read<Rec> path={`/pools/${p.id}/statement`}>
        {(s) => (
          <Section title="Books">
            <Typography>
              Available {money(s.total.closing_available, s.currency)}; received {money(s.total.contributions, s.currency)}; committed to
              grants {money(s.total.commitments, s.currency)}; paid out {money(s.total.payments, s.currency)}.
            </Typography>
          </Section>
        )}
      </Read>
      <Read<Rec[]> path={`/pools/${p.id}/proposals`}>
        {(proposals, reload) => (
          <Section title="Proposals and votes">
            {proposals.length === 0 ? <Typography>None.</Typography> : null}
            {proposals.map((x) => (
              <Box key={x.id} sx={{ mb: 2 }}>
                <Typography variant="subtitle1" component="h3">
                  {x.title}: {money(x.amount, x.currency)} — {x.status.replace("_", " ")}
                </Typography>
                <Typography variant="body2">{x.description}</Typography>
                <Typography variant="body2">
                  Votes: {x.tally.approve} for, {x.tally.object} against, {x.tally.abstain} abstaining, {x.tally.not_voted} not yet.
                  {x.decision_reason ? ` ${x.decision_reason}` : ""}
                </Typography>
                {x.status === "open" && p.my_status === "active" ? <VoteForm pool={p} proposal={x} onDone={reload} /> : null}
              </Box>
            ))}
          </Section>
        )}
      </Read>
    </Box>
  );
}

const VOTES: [string, string][] = [
  ["approve", "For"],
  ["object", "Against"],
  ["abstain", "Abstain"],
];

/** Your funder's vote on an open proposal (a second vote replaces the first while it is open). */
function VoteForm({ pool, proposal, onDone }: { pool: Rec; proposal: Rec; onDone: () => void }) {
  const { permissions } = usePermissions<Acting>();
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  const mine = (proposal.votes as Rec[]).find((v) => v.funder_id === permissions?.funderId);
  const [vote, setVote] = useState<string>(mine?.vote ?? "");
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const id = `vote-${proposal.id}`;
  return (
    <Box
      component="form"
      aria-labelledby={id}
      sx={{ mt: 1, maxWidth: 560 }}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          const decided = await dp.act<Rec>(`/pools/${pool.id}/proposals/${proposal.id}/votes`, { vote, ...(comment ? { comment } : {}) });
          notify(`Your vote is in; the proposal is ${decided.status.replace("_", " ")}`, { type: "success" });
          onDone();
        } catch (err) {
          setError((err as Error).message);
        }
      }}
    >
      <FormControl component="fieldset">
        <FormLabel component="legend" id={id}>
          {mine ? `Your funder voted ${mine.vote}; change the vote on "${proposal.title}"` : `Your vote on "${proposal.title}"`}
        </FormLabel>
        <RadioGroup row value={vote} onChange={(e) => setVote(e.target.value)}>
          {VOTES.map(([value, label]) => (
            <FormControlLabel key={value} value={value} control={<Radio />} label={label} />
          ))}
        </RadioGroup>
      </FormControl>
      <MTextField id={`${id}-comment`} label="Comment (optional)" fullWidth size="small" value={comment} onChange={(e) => setComment(e.target.value)} />
      <FormFoot error={error} submit="Send the vote" disabled={!vote} />
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

