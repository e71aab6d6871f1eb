// Columns and grids several screens share, for staff and a partner's people alike.
import { Link as MLink } from "@mui/material";
import { ChipField, Datagrid, FunctionField, ReferenceField, TextField } from "react-admin";
import { money } from "./data";

export type Rec = Record<string, any>;

/** An amount in minor units, in the record's currency. */
export const Money = ({ source, label }: { source: string; label?: string }) => (
  <FunctionField label={label ?? "Amount"} render={(r: Rec) => money(r[source], r.currency)} />
);

/** The partner a record belongs to, by name, linked to its page. */
export const PartnerName = ({ source = "partner_id" }: { source?: string; label?: string }) => (
  <ReferenceField source={source} reference="partners" link="show" label="Partner">
    <TextField source="name" />
  </ReferenceField>
);

/** An organisation's documents, with a link to each. */
export const DocumentsGrid = () => (
  <Datagrid bulkActionButtons={false}>
    <TextField source="title" />
    <TextField source="kind" />
    <TextField source="year" />
    <FunctionField label="Link" render={(d: Rec) => <MLink href={d.url}>Open {d.title}</MLink>} />
  </Datagrid>
);

/** An organisation's contacts; rows open the contact's edit page where that exists. */
export const ContactsGrid = ({ rowClick }: { rowClick?: "edit" }) => (
  <Datagrid bulkActionButtons={false} rowClick={rowClick ?? false}>
    <TextField source="name" />
    <TextField source="role" />
    <TextField source="email" />
    <TextField source="phone" />
  </Datagrid>
);

/** Grants by title, award and status. */
export const GrantsGrid = () => (
  <Datagrid bulkActionButtons={false} rowClick="show">
    <TextField source="title" />
    <Money source="amount_awarded" label="Award" />
    <ChipField source="status" />
  </Datagrid>
);
