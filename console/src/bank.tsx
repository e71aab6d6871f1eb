// Partner bank details: the organisation enters them (held, never paid to at once); a funder's
// finance person confirms a held change after checking it with the organisation.
import { Alert, Box, Typography } from "@mui/material";
import { usePermissions, useRecordContext } from "react-admin";
import { isFinance, type Acting } from "./auth";
import { Section, when } from "./common";
import type { Rec } from "./lists";
import { ActionForm, Read } from "./widgets";

function Details({ account }: { account: Rec }) {
  const d = account.details ?? {};
  return (
    <Typography>
      {d.account_name}
      {d.sort_code ? `, sort code ${d.sort_code}` : ""}
      {d.account_number ? `, account ${d.account_number}` : ""}
      {d.iban ? `, IBAN ${d.iban}` : ""}
      {d.bic ? `, BIC ${d.bic}` : ""}
    </Typography>
  );
}

function Accounts({ accounts }: { accounts: Rec }) {
  return (
    <Box>
      <Typography variant="subtitle1" component="h3">
        Confirmed (payments go here)
      </Typography>
      {accounts.confirmed ? <Details account={accounts.confirmed} /> : <Typography>None confirmed yet.</Typography>}
      {accounts.held ? (
        <Box sx={{ mt: 1 }}>
          <Typography variant="subtitle1" component="h3">
            A change waiting
          </Typography>
          <Details account={accounts.held} />
          <Typography variant="body2">
            Entered by {accounts.held.entered_by} on {when(accounts.held.created_at)}; held until {when(accounts.held.held_until)}.
          </Typography>
        </Box>
      ) : null}
    </Box>
  );
}

/** The organisation's own view: its accounts and a form to enter new details. */
export function BankDetailsForPartner() {
  const p = useRecordContext<Rec>();
  if (!p) return null;
  return (
    <Read<Rec> path={`/partners/${p.id}/bank-accounts`}>
      {(accounts, reload) => (
        <Section title="Bank details">
          <Accounts accounts={accounts} />
          <Alert severity="info" sx={{ my: 1 }}>
            New details are held for a few days, and a funder's finance person checks them with you by a channel you already use
            before any payment goes to them.
          </Alert>
          <ActionForm
            title="Enter new bank details"
            path={`/partners/${p.id}/bank-accounts`}
            submit="Save the bank details"
            fields={[
              { name: "account_name", label: "Account name" },
              { name: "sort_code", label: "Sort code", required: false },
              { name: "account_number", label: "Account number", required: false },
              { name: "iban", label: "IBAN", required: false },
              { name: "bic", label: "BIC", required: false },
            ]}
            onDone={reload}
          />
        </Section>
      )}
    </Read>
  );
}

/** A funder's finance person: the partner's accounts and confirming a held change. */
export function BankDetailsForFinance() {
  const p = useRecordContext<Rec>();
  const { permissions } = usePermissions<Acting>();
  if (!p) return null;
  if (!isFinance(permissions)) return <Alert severity="info">Only your finance people see a partner's bank details.</Alert>;
  return (
    <Read<Rec> path={`/partners/${p.id}/bank-accounts`}>
      {(accounts, reload) => (
        <Box>
          <Accounts accounts={accounts} />
          {accounts.held ? (
            <ActionForm
              title="Confirm the waiting change"
              path={`/partners/${p.id}/bank-accounts/${accounts.held.id}/confirm`}
              submit="Confirm the bank details"
              fields={[{ name: "note", label: "How you checked them with the organisation", type: "multiline" }]}
              onDone={reload}
            />
          ) : null}
        </Box>
      )}
    </Read>
  );
}
