// Money operations for a funder's staff: payment runs (prepared by one finance person,
// approved by another), the forecast as a chart, budgets and the finance settings.
import { useState } from "react";
import { Alert, Box, Button as MButton, MenuItem, Stack, TextField as MTextField, ToggleButton, ToggleButtonGroup, Typography } from "@mui/material";
import {
  ArrayField,
  ChipField,
  Create,
  Datagrid,
  DateField,
  DateInput,
  Edit,
  List,
  NumberField,
  NumberInput,
  SelectInput,
  Show,
  SimpleForm,
  SimpleShowLayout,
  TextField,
  TextInput,
  useDataProvider,
  useGetIdentity,
  useNotify,
  usePermissions,
  useRecordContext,
} from "react-admin";
import { isFinance, type Acting } from "./auth";
import { PageTitle, Section, today, when } from "./common";
import { ForecastChart, type Period } from "./chart";
import { etagOf, money, toMajor, toMinor, type TrellisDataProvider } from "./data";
import { Money, PartnerName, type Rec } from "./lists";
import { ActionForm, DataTable, FormFoot, Read } from "./widgets";

const RUN_STATUS = ["prepared", "approved", "paid", "cancelled"].map((s) => ({ id: s, name: s }));

function FinanceOnly() {
  const { permissions } = usePermissions<Acting>();
  return isFinance(permissions) ? null : (
    <Alert severity="info" sx={{ mb: 1 }}>
      You can read these; only your finance people prepare, approve and pay runs, and set budgets.
    </Alert>
  );
}

// Payment runs ----------------------------------------------------------------------------

export const PaymentRunList = () => (
  <List exporter={false} empty={false} sort={{ field: "created_at", order: "DESC" }} title="Payment runs" filters={[<SelectInput key="status" source="status" choices={RUN_STATUS} alwaysOn />]}>
    <FinanceOnly />
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <DateField locales="en-GB" source="due_by" label="Instalments due by" />
      <NumberField source="payment_count" label="Payments" />
      <Money source="total" label="Total" />
      <ChipField source="status" />
      <TextField source="prepared_by" label="Prepared by" />
      <TextField source="approved_by" label="Approved by" emptyText="—" />
    </Datagrid>
  </List>
);

export const PaymentRunCreate = () => (
  <Create redirect="show" title="Prepare a payment run">
    <SimpleForm defaultValues={{ due_by: today(), currency: "GBP" }}>
      <Typography>Every unpaid instalment of your awarded grants due on or before this day, overdue ones included.</Typography>
      <DateInput source="due_by" label="Instalments due by" />
      <TextInput source="currency" />
    </SimpleForm>
  </Create>
);

function Downloads() {
  const run = useRecordContext<Rec>();
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  if (!run || (run.status !== "approved" && run.status !== "paid")) return null;
  const get = (path: string, name: string) => dp.download(path, name).catch((e: Error) => notify(e.message, { type: "error" }));
  return (
    <Stack direction="row" spacing={1} sx={{ my: 1, flexWrap: "wrap" }}>
      <MButton variant="outlined" onClick={() => get(`/payment-runs/${run.id}/pain.001.xml`, `payment-run-${run.due_by}.xml`)}>
        Download the bank file (pain.001)
      </MButton>
      <MButton variant="outlined" onClick={() => get(`/payment-runs/${run.id}/payments.csv`, `payment-run-${run.due_by}.csv`)}>
        Download the payments (CSV)
      </MButton>
    </Stack>
  );
}

function RunActions() {
  const run = useRecordContext<Rec>();
  const { identity } = useGetIdentity();
  const { permissions } = usePermissions<Acting>();
  if (!run || !isFinance(permissions)) return null;
  const mine = identity && run.prepared_by === identity.id;
  return (
    <Box>
      {run.status === "prepared" && mine ? (
        <Alert severity="info">You prepared this run: a second finance person approves it.</Alert>
      ) : null}
      {run.status === "prepared" && !mine ? (
        <ActionForm title="Approve this run" path={`/payment-runs/${run.id}/approve`} fields={[]} submit="Approve the run" toBody={() => ({})} />
      ) : null}
      {run.status === "approved" ? (
        <ActionForm
          title="Mark the run paid"
          path={`/payment-runs/${run.id}/paid`}
          submit="Mark paid"
          fields={[
            { name: "paid_on", label: "Paid on", type: "date", initial: today() },
            { name: "reference", label: "Bank reference", required: false },
          ]}
        />
      ) : null}
      {run.status === "prepared" || run.status === "approved" ? (
        <ActionForm title="Cancel this run" path={`/payment-runs/${run.id}/cancel`} fields={[]} submit="Cancel the run" toBody={() => ({})} />
      ) : null}
    </Box>
  );
}

export const PaymentRunShow = () => (
  <Show title="A payment run">
    <SimpleShowLayout>
      <ChipField source="status" />
      <DateField locales="en-GB" source="due_by" label="Instalments due by" />
      <Money source="total" label="Total" />
      <NumberField source="payment_count" label="Payments" />
      <TextField source="prepared_by" label="Prepared by" />
      <TextField source="approved_by" label="Approved by" emptyText="—" />
      <DateField locales="en-GB" source="paid_on" label="Paid on" emptyText="—" />
      <ArrayField source="items" label="Instalments in this run">
        <Datagrid bulkActionButtons={false}>
          <PartnerName label="Partner" />
          <DateField locales="en-GB" source="due_date" label="Due" />
          <Money source="amount" />
        </Datagrid>
      </ArrayField>
      <Downloads />
      <RunActions />
    </SimpleShowLayout>
  </Show>
);



// Forecast --------------------------------------------------------------------------------

function yearPeriods(forecast: Rec, currency: string): Period[] {
  return (forecast.years as Rec[])
    .filter((y) => y.currency === currency)
    .map((y) => ({ label: y.label, committed: y.committed, paid: y.paid, pipeline: y.pipeline, budget: y.budget }));
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function monthPeriods(forecast: Rec, currency: string): Period[] {
  return (forecast.rows as Rec[])
    .filter((r) => r.currency === currency && r.key)
    .sort((a, b) => Number(a.key) - Number(b.key))
    .map((r) => ({
      label: `${MONTHS[Number(r.key) % 100 - 1]} ${String(Math.trunc(Number(r.key) / 100)).slice(2)}`,
      committed: r.committed,
      paid: r.paid,
      pipeline: r.pipeline,
      budget: null,
    }));
}

function FiguresTable({ periods, currency }: { periods: Period[]; currency: string }) {
  return (
    <DataTable
      label="Forecast figures"
      headers={["Period", "Budget", "Committed", "Paid", "Pipeline", "Headroom"]}
      rows={periods.map((p) => ({
        key: p.label,
        cells: [
          p.label,
          p.budget === null ? "no budget set" : money(p.budget, currency),
          money(p.committed, currency),
          money(p.paid, currency),
          money(p.pipeline, currency),
          p.budget === null ? "—" : money(p.budget - p.committed - p.pipeline, currency),
        ],
      }))}
    />
  );
}

export function ForecastPage() {
  const thisYear = new Date().getFullYear();
  const [from, setFrom] = useState(thisYear - 1);
  const [by, setBy] = useState<"year" | "month">("year");
  const to = by === "year" ? from + 3 : from;
  const path = `/forecast?from_year=${from}&to_year=${to}${by === "month" ? "&group_by=month" : ""}`;
  return (
    <main>
      <PageTitle>Forecast</PageTitle>
      <Typography sx={{ mb: 1 }}>
        Per financial year: what you have committed (instalments of approved grants), paid, and have in the pipeline (proposed
        grants), against your budget.
      </Typography>
      <Stack direction={{ xs: "column", sm: "row" }} spacing={2} sx={{ mb: 2, alignItems: { sm: "center" } }}>
        <ToggleButtonGroup exclusive value={by} onChange={(_, v) => v && setBy(v)} aria-label="Show by" size="small">
          <ToggleButton value="year">By year</ToggleButton>
          <ToggleButton value="month">By month</ToggleButton>
        </ToggleButtonGroup>
        <MTextField
          select
          size="small"
          label={by === "year" ? "From financial year" : "Financial year"}
          value={from}
          onChange={(e) => setFrom(Number(e.target.value))}
          sx={{ minWidth: 200 }}
        >
          {[-3, -2, -1, 0, 1, 2].map((d) => (
            <MenuItem key={d} value={thisYear + d}>
              {thisYear + d}-{String(thisYear + d + 1).slice(2)}
            </MenuItem>
          ))}
        </MTextField>
      </Stack>
      <Read<Rec> path={path}>
        {(forecast) => {
          const currencies = [...new Set((forecast.years as Rec[]).map((y) => y.currency as string))];
          if (currencies.length === 0) return <Typography>No money committed, paid or proposed in these years.</Typography>;
          return (
            <>
              {currencies.map((currency) => {
                const periods = by === "year" ? yearPeriods(forecast, currency) : monthPeriods(forecast, currency);
                const title = `Forecast in ${currency}${by === "month" ? ` for ${from}-${String(from + 1).slice(2)}, by month` : ""}`;
                return (
                  <Section key={currency} title={title}>
                    <ForecastChart periods={periods} currency={currency} title={title} />
                    <FiguresTable periods={periods} currency={currency} />
                  </Section>
                );
              })}
              <Typography variant="body2">
                Your financial year starts in {MONTHS[(forecast.year_start_month as number) - 1]}; a year is named by the calendar
                year it starts in.
              </Typography>
            </>
          );
        }}
      </Read>
    </main>
  );
}

// Budgets ---------------------------------------------------------------------------------

const pounds = { format: (v: number | null) => toMajor(v), parse: (v: string) => toMinor(v) };

export const BudgetList = () => (
  <List exporter={false} empty={false} sort={{ field: "financial_year", order: "DESC" }}>
    <FinanceOnly />
    <Datagrid rowClick="edit" bulkActionButtons={false}>
      <NumberField source="financial_year" label="Financial year" options={{ useGrouping: false }} />
      <TextField source="pool_id" label="Pool" emptyText="All your funding" />
      <Money source="amount" label="Budget" />
      <TextField source="notes" emptyText="—" />
    </Datagrid>
  </List>
);

export const BudgetCreate = () => (
  <Create redirect="list" title="Set a budget">
    <SimpleForm defaultValues={{ financial_year: new Date().getFullYear(), currency: "GBP" }}>
      <NumberInput source="financial_year" label="Financial year (the calendar year it starts in)" />
      <TextInput source="amount" label="Budget (pounds)" inputMode="decimal" {...pounds} />
      <TextInput source="currency" />
      <TextInput source="notes" multiline fullWidth />
    </SimpleForm>
  </Create>
);

export const BudgetEdit = () => (
  <Edit mutationMode="pessimistic" redirect="list" title="Change a budget" transform={(d: Rec) => ({ amount: d.amount, notes: d.notes ?? "" })}>
    <SimpleForm>
      <NumberInput source="financial_year" label="Financial year" readOnly />
      <TextInput source="amount" label="Budget (pounds)" inputMode="decimal" {...pounds} />
      <TextInput source="notes" multiline fullWidth />
    </SimpleForm>
  </Edit>
);

// Finance settings ------------------------------------------------------------------------

const MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

function SettingsForm({ settings, onSaved }: { settings: Rec; onSaved: () => void }) {
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  const [values, setValues] = useState<Record<string, string>>({
    year_start_month: String(settings.year_start_month),
    approval_limit: toMajor(settings.approval_limit),
    approval_limit_currency: settings.approval_limit_currency ?? "GBP",
    debtor_name: settings.debtor_name ?? "",
    debtor_iban: settings.debtor_iban ?? "",
    debtor_bic: settings.debtor_bic ?? "",
  });
  const [error, setError] = useState<string | null>(null);
  const field = (name: string, label: string) => (
    <MTextField id={`finance-${name}`} label={label} value={values[name]} onChange={(e) => setValues({ ...values, [name]: e.target.value })} />
  );
  return (
    <Box
      component="form"
      aria-label="Finance settings"
      sx={{ maxWidth: 560 }}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        const body: Rec = { year_start_month: Number(values.year_start_month) };
        if (values.approval_limit) {
          body.approval_limit = toMinor(values.approval_limit);
          body.approval_limit_currency = values.approval_limit_currency;
        }
        for (const k of ["debtor_name", "debtor_iban", "debtor_bic"]) if (values[k]) body[k] = values[k];
        try {
          await dp.put("/finance-settings", body, etagOf(settings));
          notify("Finance settings saved", { type: "success" });
          onSaved();
        } catch (err) {
          setError((err as Error).message);
        }
      }}
    >
      <Stack spacing={2}>
        <MTextField
          select
          id="finance-year_start_month"
          label="Your financial year starts in"
          value={values.year_start_month}
          onChange={(e) => setValues({ ...values, year_start_month: e.target.value })}
        >
          {MONTH_NAMES.map((m, i) => (
            <MenuItem key={m} value={String(i + 1)}>
              {m}
            </MenuItem>
          ))}
        </MTextField>
        {field("approval_limit", "Largest award staff approve without a trustee (pounds)")}
        {field("approval_limit_currency", "Currency of that limit")}
        <Typography variant="subtitle1" component="h2">
          Your own bank account (payments go from it)
        </Typography>
        {field("debtor_name", "Account name")}
        {field("debtor_iban", "IBAN")}
        {field("debtor_bic", "BIC")}
      </Stack>
      <FormFoot error={error} submit="Save the settings" />
    </Box>
  );
}

export function FinanceSettingsPage() {
  return (
    <main>
      <PageTitle>Finance settings</PageTitle>
      <FinanceOnly />
      <Read<Rec> path="/finance-settings">
        {(settings, reload) => (
          <>
            <SettingsForm key={settings.version} settings={settings} onSaved={reload} />
            <Typography variant="body2" sx={{ mt: 2 }}>
              Last changed {when(settings.updated_at)}.
            </Typography>
          </>
        )}
      </Read>
    </main>
  );
}
