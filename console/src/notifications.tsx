// The signed-in person's notification preferences (GET/PUT /notification-preferences):
// each email of the sides their memberships are on, on or off, at once or in a daily digest.
import { useState } from "react";
import { Box, Checkbox, FormControlLabel, MenuItem, TextField as MTextField, Typography } from "@mui/material";
import { useDataProvider, useNotify } from "react-admin";
import type { components } from "./api";
import type { TrellisDataProvider } from "./data";
import { PageTitle } from "./common";
import { DataTable, FormFoot, Read } from "./widgets";

type Preferences = components["schemas"]["NotificationPreferences"];
type Choice = components["schemas"]["NotificationChoice"];

const AUDIENCE: Record<Choice["audience"], string> = {
  staff: "As a funder's staff",
  partner: "As a partner's person",
};

function PreferencesForm({ preferences, onSaved }: { preferences: Preferences; onSaved: () => void }) {
  const dp = useDataProvider<TrellisDataProvider>();
  const notify = useNotify();
  const [choices, setChoices] = useState<Choice[]>(preferences.notifications);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const change = (name: Choice["notification"], patch: Partial<Choice>) =>
    setChoices(choices.map((c) => (c.notification === name ? { ...c, ...patch } : c)));
  // Only what the person changed is sent: the API keeps the rest as it is.
  const changed = choices.filter((c) => {
    const was = preferences.notifications.find((p) => p.notification === c.notification);
    return !was || was.enabled !== c.enabled || was.frequency !== c.frequency;
  });
  return (
    <Box
      component="form"
      aria-label="Notification preferences"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        if (changed.length === 0) {
          setError("Nothing has changed: turn a notification on or off, or choose how often, then save.");
          return;
        }
        setBusy(true);
        try {
          await dp.put("/notification-preferences", {
            notifications: changed.map(({ notification, enabled, frequency }) => ({ notification, enabled, frequency })),
          });
          notify("Notification preferences saved", { type: "success" });
          onSaved();
        } catch (err) {
          setError((err as Error).message);
        } finally {
          setBusy(false);
        }
      }}
    >
      <DataTable
        label="Notifications"
        headers={["Email", "For you", "Send it", "How often"]}
        rows={choices.map((c) => ({
          key: c.notification,
          cells: [
            c.description,
            AUDIENCE[c.audience],
            <FormControlLabel
              key="on"
              control={
                <Checkbox
                  checked={c.enabled}
                  onChange={(e) => change(c.notification, { enabled: e.target.checked })}
                  slotProps={{ input: { "aria-label": `Send this email: ${c.description}` } }}
                />
              }
              label={c.enabled ? "On" : "Off"}
            />,
            <MTextField
              key="often"
              select
              size="small"
              id={`often-${c.notification}`}
              label="How often"
              value={c.frequency}
              disabled={!c.enabled}
              onChange={(e) => change(c.notification, { frequency: e.target.value as Choice["frequency"] })}
            >
              <MenuItem value="immediate">At once</MenuItem>
              <MenuItem value="daily">In a daily digest</MenuItem>
            </MTextField>,
          ],
        }))}
      />
      <FormFoot error={error} submit="Save the preferences" disabled={busy} />
    </Box>
  );
}

export function NotificationsPage() {
  return (
    <main>
      <PageTitle>Notifications</PageTitle>
      <Read<Preferences> path="/notification-preferences">
        {(preferences, reload) => (
          <>
            <Typography sx={{ mb: 2 }}>
              The emails Trellis sends to {preferences.email}. Daily digests go out at {String(preferences.digest_hour_utc).padStart(2, "0")}:00
              UTC. Everything is on, at once, until you choose otherwise.
            </Typography>
            <PreferencesForm key={JSON.stringify(preferences.notifications)} preferences={preferences} onSaved={reload} />
          </>
        )}
      </Read>
    </main>
  );
}
