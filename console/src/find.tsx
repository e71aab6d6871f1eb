// Search across the stories a person may read, and the audit trail of every change.
import { Fragment } from "react";
import { Box, Typography } from "@mui/material";
import { Datagrid, DateField, DateInput, FunctionField, List, SelectInput, TextField, TextInput, useGetOne } from "react-admin";
import { PartnerName, type Rec } from "./lists";

/**
 * A search snippet is escaped text with <mark> around the matched words. It is never put
 * into the page as HTML: the marks become <mark> elements and the rest is decoded as text.
 */
// The API escapes &, < and > (Python's html.escape without quotes); undo exactly that.
const decode = (part: string) => part.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

export function Snippet({ html }: { html: string }) {
  const parts = html.split(/(<mark>.*?<\/mark>)/g);
  return (
    <Typography variant="body2" component="span">
      {parts.map((part, i) =>
        part.startsWith("<mark>") ? <mark key={i}>{decode(part.slice(6, -7))}</mark> : <Fragment key={i}>{decode(part)}</Fragment>,
      )}
    </Typography>
  );
}

const KINDS = ["update", "reply", "interaction", "document"].map((k) => ({ id: k, name: k }));

/** Where a hit opens: the update (for an update or a reply), the visit, the partner's documents. */
function hitPath(hit: Rec): string {
  if (hit.kind === "update" || hit.kind === "reply") return `/updates/${hit.update_id ?? hit.id}/show`;
  if (hit.kind === "interaction") return `/interactions/${hit.id}/show`;
  return `/partners/${hit.partner_id}/show/documents`;
}

export const SearchList = ({ partner }: { partner?: boolean }) => (
  <List
    exporter={false}
    resource="search"
    title="Search"
    empty={false}
    sort={{ field: "relevance", order: "DESC" }}
    filters={[
      <TextInput key="q" source="q" label="Look for" alwaysOn helperText='Words, "a phrase", or -word to leave out' />,
      <SelectInput key="kind" source="kind" choices={partner ? KINDS.filter((k) => k.id !== "interaction") : KINDS} label="Only" />,
    ]}
  >
    <Datagrid bulkActionButtons={false} rowClick={(_id, _resource, record) => (partner && record.kind === "document" ? false : hitPath(record))}>
      <TextField source="kind" label="What" />
      {partner ? null : <PartnerName label="Partner" />}
      <FunctionField label="Found" render={(hit: Rec) => <Snippet html={hit.snippet} />} />
      <DateField locales="en-GB" source="at" label="When" />
    </Datagrid>
  </List>
);

function Changes({ changes }: { changes: Record<string, unknown> }) {
  const entries = Object.entries(changes ?? {});
  if (entries.length === 0) return <>—</>;
  return (
    <Box component="dl" sx={{ m: 0, "& dt": { fontWeight: 600 }, "& dd": { ml: 0, mb: 0.5, wordBreak: "break-word" } }}>
      {entries.slice(0, 6).map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k.replace(/_/g, " ")}</dt>
          <dd>{typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>
        </Fragment>
      ))}
      {entries.length > 6 ? <dd>and {entries.length - 6} more</dd> : null}
    </Box>
  );
}

/** A signed-in person is recorded as "person:<id>": show their name where the caller may read it. */
function Actor({ actor }: { actor: string }) {
  const id = actor.startsWith("person:") ? actor.slice("person:".length) : "";
  const { data } = useGetOne("people", { id }, { enabled: id !== "", retry: false });
  return <>{data?.name ?? actor}</>;
}

const ACTIONS = ["create", "update", "delete"].map((a) => ({ id: a, name: a }));

export const AuditList = () => (
  <List
    exporter={false}
    resource="audit"
    title="Audit trail"
    empty={false}
    sort={{ field: "occurred_at", order: "DESC" }}
    filters={[
      <TextInput key="entity_type" source="entity_type" label="Record type" alwaysOn />,
      <TextInput key="actor" source="actor" label="Who" />,
      <SelectInput key="action" source="action" choices={ACTIONS} />,
      <DateInput key="from" source="occurred_at_gte" label="From" />,
      <DateInput key="to" source="occurred_at_lte" label="To" />,
    ]}
  >
    <Datagrid bulkActionButtons={false} rowClick={false}>
      <DateField locales="en-GB" source="occurred_at" label="When" showTime />
      <FunctionField label="Who" render={(e: Rec) => <Actor actor={e.actor} />} />
      <TextField source="action" />
      <TextField source="entity_type" label="Record" />
      <TextField source="service" />
      <FunctionField label="What changed" render={(e: Rec) => <Changes changes={e.changes} />} />
    </Datagrid>
  </List>
);
