// Data in and out: the takeout (everything a person may read, in one zip) and imports
// (a dry run report first, then the import itself).
import { useState } from "react";
import { Alert, Box, Button as MButton, Stack, TextField as MTextField, ToggleButton, ToggleButtonGroup, Typography } from "@mui/material";
import { useDataProvider, useNotify } from "react-admin";
import { PageTitle, Section, when } from "./common";
import type { TrellisDataProvider } from "./data";
import type { Rec } from "./lists";
import { DataTable, Read } from "./widgets";

export function TakeoutPage() {
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  const [error, setError] = useState<string | null>(null);
  return (
    <main>
      <PageTitle>Takeout: all your data</PageTitle>
      <Typography sx={{ mb: 2 }}>
        Every list you can read, as JSON Lines and CSV with a README, in one zip. It is made in the background.
      </Typography>
      <Read<Rec[]> path="/exports/takeout">
        {(takeouts, reload) => (
          <Section title="Your takeouts">
            {takeouts.length === 0 ? <Typography>None yet.</Typography> : null}
            {takeouts.map((t) => (
              <Stack key={t.id} direction={{ xs: "column", sm: "row" }} spacing={1} sx={{ mb: 1, alignItems: { sm: "center" } }}>
                <Typography>
                  Started {when(t.created_at)}: {t.status}
                  {t.size ? `, ${Math.ceil(t.size / 1024)} KB` : ""}
                  {t.error ? ` (${t.error})` : ""}
                </Typography>
                {t.status === "done" ? (
                  <MButton
                    size="small"
                    variant="outlined"
                    onClick={() =>
                      dp.download(`/exports/takeout/${t.id}/download`, `trellis-takeout-${t.created_at.slice(0, 10)}.zip`).catch((e: Error) =>
                        notify(e.message, { type: "error" }),
                      )
                    }
                  >
                    Download the zip
                  </MButton>
                ) : null}
              </Stack>
            ))}
            {error ? <Alert severity="error">{error}</Alert> : null}
            <Stack direction="row" spacing={1} sx={{ mt: 1 }}>
              <MButton
                variant="contained"
                onClick={() =>
                  dp.act("/exports/takeout", {}).then(
                    () => (notify("Takeout started", { type: "success" }), reload()),
                    (e: Error) => setError(e.message),
                  )
                }
              >
                Start a takeout
              </MButton>
              <MButton onClick={reload}>Check again</MButton>
            </Stack>
          </Section>
        )}
      </Read>
    </main>
  );
}

type Kind = "partners" | "360giving";

function Report({ kind, report }: { kind: Kind; report: Rec }) {
  const rows: Rec[] = kind === "partners" ? report.rows : report.grants;
  return (
    <Box sx={{ mt: 2 }}>
      <Typography role="status">
        {report.dry_run ? "Dry run, nothing changed: " : "Imported: "}
        {Object.entries(report.counts as Record<string, number>)
          .map(([k, v]) => `${v} ${k}`)
          .join(", ")}
        .
      </Typography>
      <DataTable
        label="Import report"
        headers={["Row", kind === "partners" ? "Organisation" : "Grant", "What happens", "Why"]}
        rows={rows.map((r) => ({
          key: String(r.row),
          cells: [
            r.row,
            kind === "partners" ? r.name : `${r.title ?? r.identifier} (${r.recipient ?? "—"})`,
            r.action,
            (r.reasons as string[]).join("; ") || "—",
          ],
        }))}
      />
    </Box>
  );
}

export function ImportPage() {
  const dp = useDataProvider<TrellisDataProvider>();
  const [kind, setKind] = useState<Kind>("partners");
  const [text, setText] = useState("");
  const [report, setReport] = useState<Rec | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (dryRun: boolean) => {
    setError(null);
    const json = text.trimStart().startsWith("{");
    try {
      setReport(
        await dp.upload<Rec>(`/imports/${kind}?dry_run=${dryRun}`, text, json && kind === "360giving" ? "application/json" : "text/csv"),
      );
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <main>
      <PageTitle>Import</PageTitle>
      <ToggleButtonGroup
        exclusive
        size="small"
        value={kind}
        onChange={(_, v) => v && (setKind(v), setReport(null))}
        aria-label="What to import"
        sx={{ mb: 2 }}
      >
        <ToggleButton value="partners">Partners (a spreadsheet as CSV)</ToggleButton>
        <ToggleButton value="360giving">Past grants (360Giving JSON or CSV)</ToggleButton>
      </ToggleButtonGroup>
      <Typography sx={{ mb: 1 }}>
        {kind === "partners"
          ? "Columns: name (required), org_id, charity_number, company_number, website, region, description, status, since, steward."
          : "A 360Giving package, such as another system's export or Trellis's own."}{" "}
        First a dry run says what would happen to each row; nothing changes until you import.
      </Typography>
      <MButton component="label" variant="outlined" sx={{ mb: 1 }}>
        Choose a file
        <input
          hidden
          type="file"
          accept=".csv,.json,text/csv,application/json"
          onChange={async (e) => {
            const file = e.target.files?.[0];
            if (file) setText(await file.text());
          }}
        />
      </MButton>
      <MTextField
        id="import-text"
        label="Or paste the file's text"
        multiline
        minRows={6}
        fullWidth
        value={text}
        onChange={(e) => (setText(e.target.value), setReport(null))}
      />
      {error ? (
        <Alert severity="error" role="alert" sx={{ mt: 1 }}>
          {error}
        </Alert>
      ) : null}
      <Stack direction="row" spacing={1} sx={{ mt: 1 }}>
        <MButton variant="outlined" disabled={!text} onClick={() => run(true)}>
          Dry run
        </MButton>
        <MButton variant="contained" disabled={!report?.dry_run} onClick={() => run(false)}>
          Import
        </MButton>
      </Stack>
      {report ? <Report kind={kind} report={report} /> : null}
    </main>
  );
}
