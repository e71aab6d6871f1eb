// Small pieces several screens share: reading a sub-resource, posting an action.
import { useCallback, useEffect, useState, type ReactNode } from "react";
import { Alert, Box, Button, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField as MTextField, Typography } from "@mui/material";
import { Loading, useDataProvider, useNotify, useRefresh } from "react-admin";
import type { TrellisDataProvider } from "./data";

/** Read a path under /api/v1 and render it; `reload()` reads again. */
export function useRead<T>(path: string | null) {
  const dp = useDataProvider<TrellisDataProvider>();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    dp.read<T>(path).then(
      (d) => live && (setData(d), setError(null)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [dp, path, tick]);
  return { data, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}

export function Read<T>({ path, children }: { path: string; children: (data: T, reload: () => void) => ReactNode }) {
  const { data, error, reload } = useRead<T>(path);
  if (error) return <Alert severity="warning">{error}</Alert>;
  if (data === null) return <Loading />;
  return <>{children(data, reload)}</>;
}

export interface FieldSpec {
  name: string;
  label: string;
  type?: "text" | "date" | "multiline" | "number";
  initial?: string;
  required?: boolean;
}

/** A small form that POSTs an action and says what happened (or what to fix). */
export function ActionForm({
  title,
  path,
  fields,
  submit,
  toBody,
  onDone,
}: {
  title: string;
  path: string;
  fields: FieldSpec[];
  submit: string;
  toBody?: (values: Record<string, string>) => unknown;
  onDone?: () => void;
}) {
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();
  const [values, setValues] = useState<Record<string, string>>(
    Object.fromEntries(fields.map((f) => [f.name, f.initial ?? ""])),
  );
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
        setBusy(true);
        setError(null);
        try {
          const body = toBody ? toBody(values) : Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ""));
          await dp.act(path, body);
          notify(`${title}: done`, { type: "success" });
          setValues(Object.fromEntries(fields.map((f) => [f.name, f.initial ?? ""])));
          refresh();
          onDone?.();
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
        {fields.map((f) => (
          <MTextField
            key={f.name}
            id={`${id}-${f.name}`}
            label={f.label}
            name={f.name}
            type={f.type === "date" ? "date" : f.type === "number" ? "number" : "text"}
            multiline={f.type === "multiline"}
            minRows={f.type === "multiline" ? 3 : undefined}
            required={f.required ?? true}
            value={values[f.name]}
            onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
            slotProps={{ inputLabel: { shrink: true } }}
          />
        ))}
      </Stack>
      <FormFoot error={error} submit={submit} disabled={busy} />
    </Box>
  );
}

/** The end of a form: what to fix (announced), then the button that sends it. */
export function FormFoot({ error, submit, disabled }: { error: string | null; submit: string; disabled?: boolean }) {
  return (
    <>
      {error ? (
        <Alert severity="error" role="alert" sx={{ mt: 1 }}>
          {error}
        </Alert>
      ) : null}
      <Box>
        <Button type="submit" variant="contained" disabled={disabled} sx={{ mt: 1.5 }}>
          {submit}
        </Button>
      </Box>
    </>
  );
}

/** A small table that scrolls sideways on a phone; `label` names it for screen readers. */
export function DataTable({ label, headers, rows }: { label: string; headers: string[]; rows: { key: string; cells: ReactNode[] }[] }) {
  return (
    <Box sx={{ overflowX: "auto" }} tabIndex={0} role="region" aria-label={`${label} table`}>
      <Table size="small" aria-label={label}>
        <TableHead>
          <TableRow>
            {headers.map((h) => (
              <TableCell key={h}>{h}</TableCell>
            ))}
          </TableRow>
        </TableHead>
        <TableBody>
          {rows.map((r) => (
            <TableRow key={r.key}>
              {r.cells.map((c, i) => (
                <TableCell key={i}>{c}</TableCell>
              ))}
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Box>
  );
}

