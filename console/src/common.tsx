import type { ReactNode } from "react";
import { Alert, Box, Card, CardContent, Chip, Typography } from "@mui/material";
import { defaultTheme, type RaThemeOptions } from "react-admin";

// Colours chosen for WCAG 2.2 AA contrast on white (text 4.5:1 or more).
export const theme: RaThemeOptions = {
  ...defaultTheme,
  palette: {
    primary: { main: "#24553a" },
    secondary: { main: "#1f4e79" },
    error: { main: "#a4262c" },
    success: { main: "#1e5e24" },
    warning: { main: "#7a4d00" },
    info: { main: "#1f4e79" },
    text: { primary: "#1d2a22", secondary: "#45514a" },
  },
  typography: { fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" },
  components: {
    ...defaultTheme.components,
    MuiLink: { defaultProps: { underline: "always" } },
    // react-admin's empty lists fade their message to half opacity: keep it readable.
    RaEmpty: { styleOverrides: { root: { "& .RaEmpty-message": { opacity: 1 } } } },
    // Spinners carry a name for screen readers.
    MuiCircularProgress: { defaultProps: { "aria-label": "Loading" } },
    MuiLinearProgress: { defaultProps: { "aria-label": "Loading" } },
  },
};

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Card component="section" aria-label={title} sx={{ mb: 2 }}>
      <CardContent>
        <Typography variant="h6" component="h2" gutterBottom>
          {title}
        </Typography>
        {children}
      </CardContent>
    </Card>
  );
}

/** A composite view's section that could not be read says so, and why. */
export function SectionStatus({ section }: { section: { status: string; detail?: string | null } }) {
  if (section.status === "ok") return null;
  return (
    <Alert severity={section.status === "unavailable" ? "warning" : "info"} sx={{ mb: 1 }}>
      {section.detail ?? (section.status === "unavailable" ? "This part cannot be read just now." : "Not shown to you.")}
    </Alert>
  );
}

/** A figure the service withheld (fewer responses than the round's k) is shown as withheld, with why. */
export function Withheld({ value, withheld }: { value: ReactNode; withheld: string[] }) {
  if (withheld.length === 0 || (value !== null && value !== undefined && value !== "—")) return <>{value}</>;
  return (
    <Box component="span">
      <Chip size="small" label="withheld" sx={{ mr: 1 }} />
      <Typography component="span" variant="body2">
        {withheld.join("; ")}
      </Typography>
    </Box>
  );
}

export function PageTitle({ children }: { children: ReactNode }) {
  return (
    <Typography variant="h5" component="h1" sx={{ my: 2 }}>
      {children}
    </Typography>
  );
}

export function when(value: string | null | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
}

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}
