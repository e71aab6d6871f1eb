// Funder staff's home page: what needs attention, from GET /api/v1/overview.
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { List as MList, ListItem, ListItemText, Typography, Link as MLink } from "@mui/material";
import { useDataProvider, usePermissions, Loading } from "react-admin";
import type { TrellisDataProvider } from "./data";
import { money } from "./data";
import { PageTitle, Section, SectionStatus, when } from "./common";
import type { Acting } from "./auth";
import { PartnerHome } from "./partner";
import type { FunderOverview } from "./types";

type Rec = Record<string, any>;

export function Home() {
  const { permissions, isPending } = usePermissions<Acting>();
  if (isPending) return <Loading />;
  if (permissions?.role === "partner") return <PartnerHome />;
  return <FunderHome />;
}

function FunderHome() {
  const dp = useDataProvider<TrellisDataProvider>();
  const [overview, setOverview] = useState<FunderOverview | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    dp.read<FunderOverview>("/overview").then(setOverview, (e: Error) => setError(e.message));
  }, [dp]);
  if (error) return <Typography role="alert">{error}</Typography>;
  if (!overview) return <Loading />;
  const { updates, instalments, rounds, proposals } = overview;
  return (
    <main>
      <PageTitle>What needs attention</PageTitle>
      <Section title={`Updates awaiting a reply (${updates.awaiting_reply_count ?? 0})`}>
        <SectionStatus section={updates} />
        {updates.reply_within_days ? (
          <Typography variant="body2">
            You promised to reply within {updates.reply_within_days} days;{" "}
            {updates.past_promised_time_count ?? 0} are past that.
          </Typography>
        ) : null}
        <MList dense>
          {(updates.awaiting_reply ?? []).map((u: Rec) => (
            <ListItem key={u.id} disableGutters>
              <ListItemText
                primary={
                  <MLink component={Link} to={`/updates/${u.id}/show`}>
                    {u.partner_name ?? "An update"} — sent {when(u.sent_at)}
                  </MLink>
                }
                secondary={u.what_changed ?? u.want_you_to_know ?? ""}
              />
            </ListItem>
          ))}
        </MList>
      </Section>
      <Section title={`Instalments due this month (${instalments.due_this_month_count ?? 0}), overdue (${instalments.overdue_count ?? 0})`}>
        <SectionStatus section={instalments} />
        <MList dense>
          {[...(instalments.overdue ?? []), ...(instalments.due_this_month ?? [])].map((i: Rec) => (
            <ListItem key={i.id} disableGutters>
              <ListItemText
                primary={
                  <MLink component={Link} to={`/grants/${i.grant_id}/show`}>
                    {money(i.amount, i.currency)} due {when(i.due_date)}
                    {i.overdue ? " (overdue)" : ""}
                  </MLink>
                }
              />
            </ListItem>
          ))}
        </MList>
      </Section>
      <Section title={`Open feedback rounds (${rounds.open_count ?? 0})`}>
        <SectionStatus section={rounds} />
        <MList dense>
          {(rounds.open ?? []).map((r: Rec) => (
            <ListItem key={r.id} disableGutters>
              <ListItemText
                primary={<MLink component={Link} to={`/rounds/${r.id}/show`}>{r.title}</MLink>}
                secondary={`closes ${when(r.closes_on)}`}
              />
            </ListItem>
          ))}
        </MList>
      </Section>
      <Section title={`Pool proposals awaiting your vote (${proposals.awaiting_your_vote_count ?? 0})`}>
        <SectionStatus section={proposals} />
        <MList dense>
          {(proposals.awaiting_your_vote ?? []).map((p: Rec) => (
            <ListItem key={p.id} disableGutters>
              <ListItemText
                primary={<MLink component={Link} to={`/pools/${p.pool_id}/show`}>{p.title ?? "A proposal"}</MLink>}
              />
            </ListItem>
          ))}
        </MList>
      </Section>
    </main>
  );
}
