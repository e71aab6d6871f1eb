// The forecast as a chart: plain SVG (no chart library, nothing from a CDN). Bars for money
// committed, paid and in the pipeline per period; a dashed line for the budget where set.
// The same figures follow in a table, which is what a screen reader reads.
import { Box, Stack, Typography } from "@mui/material";
import { money } from "./data";

export interface Period {
  label: string;
  committed: number;
  paid: number;
  pipeline: number;
  budget: number | null;
}

// Colours with 3:1 contrast against white and each other's neighbours (WCAG 1.4.11).
const SERIES: [keyof Period, string, string][] = [
  ["committed", "Committed", "#24553a"],
  ["paid", "Paid", "#1f4e79"],
  ["pipeline", "Pipeline (proposed)", "#8a4b00"],
];

export function ForecastChart({ periods, currency, title }: { periods: Period[]; currency: string; title: string }) {
  const width = Math.max(320, periods.length * 96);
  const height = 240;
  const top = 12;
  const bottom = 36;
  const left = 8;
  const peak = Math.max(1, ...periods.flatMap((p) => [p.committed, p.paid, p.pipeline, p.budget ?? 0]));
  const y = (v: number) => top + (height - top - bottom) * (1 - v / peak);
  const slot = (width - left) / Math.max(1, periods.length);
  const bar = Math.min(22, (slot - 12) / 3);
  return (
    <Box>
      <Stack direction="row" spacing={2} sx={{ flexWrap: "wrap", mb: 1 }} aria-hidden="true">
        {SERIES.map(([, label, colour]) => (
          <Stack key={label} direction="row" spacing={0.5} sx={{ alignItems: "center" }}>
            <Box sx={{ width: 14, height: 14, bgcolor: colour }} />
            <Typography variant="body2">{label}</Typography>
          </Stack>
        ))}
        <Stack direction="row" spacing={0.5} sx={{ alignItems: "center" }}>
          <Box sx={{ width: 18, borderTop: "2px dashed #a4262c" }} />
          <Typography variant="body2">Budget</Typography>
        </Stack>
      </Stack>
      <Box sx={{ overflowX: "auto" }}>
        <svg width={width} height={height} role="img" aria-label={`${title}: the figures are in the table below`}>
          <line x1={left} x2={width} y1={y(0)} y2={y(0)} stroke="#45514a" />
          {periods.map((p, i) => {
            const x0 = left + i * slot + (slot - bar * 3) / 2;
            return (
              <g key={p.label}>
                {SERIES.map(([key, label, colour], n) => {
                  const v = p[key] as number;
                  return (
                    <rect key={key} x={x0 + n * bar} y={y(v)} width={bar - 2} height={Math.max(0, y(0) - y(v))} fill={colour}>
                      <title>{`${p.label} ${label}: ${money(v, currency)}`}</title>
                    </rect>
                  );
                })}
                {p.budget !== null ? (
                  <line x1={x0 - 4} x2={x0 + bar * 3 + 2} y1={y(p.budget)} y2={y(p.budget)} stroke="#a4262c" strokeWidth={2} strokeDasharray="5 3">
                    <title>{`${p.label} budget: ${money(p.budget, currency)}`}</title>
                  </line>
                ) : null}
                <text x={left + i * slot + slot / 2} y={height - 14} textAnchor="middle" fontSize="12" fill="#1d2a22">
                  {p.label}
                </text>
              </g>
            );
          })}
        </svg>
      </Box>
    </Box>
  );
}
