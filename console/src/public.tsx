// Pages anyone may read without signing in: a funder's commitments, scorecard and open data.
import { useEffect, useState } from "react";
import { useParams } from "react-router-dom";
import { Alert, Box, Container, Link as MLink, Typography } from "@mui/material";
import { publicRead, money } from "./data";
import { Section, when } from "./common";
import { ResultsTable } from "./feedback";
import type { PublicCommitment, Scorecard } from "./types";

type Rec = Record<string, any>;

function usePublic<T>(path: string) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    publicRead<T>(path).then(setData, (e: Error) => setError(e.message));
  }, [path]);
  return { data, error };
}

export function PublicFunder() {
  const { slug = "" } = useParams();
  const scorecard = usePublic<Scorecard>(`/public/feedback/${encodeURIComponent(slug)}/scorecard`);
  const commitments = usePublic<PublicCommitment[]>(`/public/feedback/${encodeURIComponent(slug)}/commitments`);
  const grants = usePublic<Rec>(`/public/funding/${encodeURIComponent(slug)}/360giving`);
  const name = (scorecard.data?.funder?.name as string | undefined) ?? slug;
  useEffect(() => {
    document.title = `${name}: commitments and feedback — Trellis`;
  }, [name]);
  return (
    <Container component="main" maxWidth="md" sx={{ py: 3 }}>
      <Typography variant="h4" component="h1" gutterBottom>
        {name}
      </Typography>
      <Typography sx={{ mb: 2 }}>
        What this funder promises the organisations it funds, what those partners say about how it keeps those promises, and the grants it has made.
      </Typography>
      <Section title="Our commitments">
        {commitments.error ? <Alert severity="info">{commitments.error}</Alert> : null}
        {(commitments.data ?? []).map((c) => (
          <Box key={c.id} sx={{ mb: 1.5 }}>
            <Typography variant="subtitle1" component="h3">
              {c.title}
            </Typography>
            {c.description ? <Typography>{c.description}</Typography> : null}
          </Box>
        ))}
      </Section>
      <Section title="Scorecard: what partners said">
        {scorecard.error ? <Alert severity="info">{scorecard.error}</Alert> : null}
        {scorecard.data ? (
          <Box>
            <Typography variant="body2" sx={{ mb: 1 }}>
              Partners rate how well the funder keeps each commitment, from 1 (poorly) to 5 (very well). A figure based on fewer than {scorecard.data.k}{" "}
              answers is withheld, so nobody can be picked out.
            </Typography>
            <ResultsTable
              results={scorecard.data.commitments.map((c) => ({
                id: c.id,
                title: c.title,
                responses: c.latest?.responses ?? null,
                mean: c.latest?.mean ?? null,
                dont_know: c.latest?.dont_know ?? null,
                withheld: c.latest ? c.latest.withheld : ["no published round yet"],
              }))}
            />
            {scorecard.data.rounds.map((r) => (
              <Box key={r.id} sx={{ mt: 2 }}>
                <Typography variant="subtitle1" component="h3">
                  {r.title} (closed {when(r.closes_on)})
                </Typography>
                <Typography>
                  {r.invited} partners invited{r.responses !== null ? `, ${r.responses} answered` : ""}.
                </Typography>
                {r.answer ? <Typography>Our answer: {r.answer}</Typography> : null}
              </Box>
            ))}
            {scorecard.data.actions.length > 0 ? (
              <Box sx={{ mt: 2 }}>
                <Typography variant="subtitle1" component="h3">
                  What we are doing about it
                </Typography>
                <ul>
                  {scorecard.data.actions.map((a) => (
                    <li key={a.id}>
                      {a.title} — {a.status.replace("_", " ")}
                    </li>
                  ))}
                </ul>
              </Box>
            ) : null}
          </Box>
        ) : null}
      </Section>
      <Section title="Open data: grants made">
        {grants.error ? <Alert severity="info">{grants.error}</Alert> : null}
        {grants.data ? (
          <Box>
            <ul>
              {((grants.data.grants ?? []) as Rec[]).slice(0, 50).map((g) => (
                <li key={g.id}>
                  {g.title}: {money(Math.round(Number(g.amountAwarded) * 100), g.currency)} to {g.recipientOrganization?.[0]?.name ?? "a partner"} (
                  {when(g.awardDate)})
                </li>
              ))}
            </ul>
            <MLink href={`/api/v1/public/funding/${encodeURIComponent(slug)}/360giving.csv`}>Download as 360Giving CSV</MLink>
          </Box>
        ) : null}
      </Section>
    </Container>
  );
}
