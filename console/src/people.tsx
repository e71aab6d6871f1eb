// People and their memberships, and invitations: for a funder's staff (colleagues) and for an
// organisation's people (their own colleagues), through the same API lists.
import { Alert } from "@mui/material";
import {
  Create,
  Datagrid,
  DateField,
  DeleteButton,
  FunctionField,
  List,
  ReferenceField,
  SelectInput,
  SimpleForm,
  TextField,
  TextInput,
  usePermissions,
  type CreateProps,
} from "react-admin";
import type { Acting } from "./auth";
import type { Rec } from "./lists";

export const PeopleList = () => (
  <List exporter={false} empty={false} sort={{ field: "name", order: "ASC" }} title="People">
    <Datagrid bulkActionButtons={false} rowClick={false}>
      <TextField source="name" />
      <TextField source="email" />
      <DateField locales="en-GB" source="created_at" label="Joined" />
      <FunctionField label="Signs in" render={(p: Rec) => (p.disabled_at ? "stopped" : "yes")} />
    </Datagrid>
  </List>
);

export const MembershipList = () => (
  <List exporter={false} empty={false} sort={{ field: "created_at", order: "DESC" }} title="Memberships">
    <Alert severity="info" sx={{ mb: 1 }}>
      Ending a membership revokes that person's sign-ins for it at once. An organisation always keeps at least one of its own
      people.
    </Alert>
    <Datagrid bulkActionButtons={false} rowClick={false}>
      <ReferenceField source="person_id" reference="people" link={false} label="Person">
        <TextField source="name" />
      </ReferenceField>
      <TextField source="role" />
      <DateField locales="en-GB" source="created_at" label="Since" />
      <TextField source="created_by" label="Added by" />
      <DeleteButton label="End membership" mutationMode="pessimistic" confirmTitle="End this membership?" confirmContent="Their sign-ins for it are revoked." />
    </Datagrid>
  </List>
);

export const InvitationList = () => (
  <List exporter={false} empty={false} sort={{ field: "created_at", order: "DESC" }} title="Invitations">
    <Datagrid bulkActionButtons={false} rowClick={false}>
      <TextField source="email" />
      <TextField source="kind" />
      <DateField locales="en-GB" source="created_at" label="Sent" />
      <DateField locales="en-GB" source="expires_at" label="Expires" />
      <FunctionField
        label="Status"
        render={(i: Rec) => (i.accepted_at ? "accepted" : i.withdrawn_at ? "withdrawn" : "waiting")}
      />
      <FunctionField
        label="Action"
        render={(i: Rec) =>
          i.accepted_at || i.withdrawn_at ? null : (
            <DeleteButton record={i as { id: string }} label="Withdraw" mutationMode="pessimistic" confirmTitle="Withdraw this invitation?" confirmContent="Its link stops working." />
          )
        }
      />
    </Datagrid>
  </List>
);

/** Invite a colleague (staff or an organisation's people) by email; the link goes by mail. */
export function InvitationCreate(props: CreateProps) {
  const { permissions } = usePermissions<Acting>();
  const partner = permissions?.role === "partner";
  const defaults = partner
    ? { role: "partner", partner_id: permissions?.partnerId }
    : { role: "funder_staff", funder_id: permissions?.funderId };
  return (
    <Create {...props} redirect="list" title="Invite a colleague">
      <SimpleForm defaultValues={defaults}>
        <TextInput source="email" type="email" fullWidth />
        <SelectInput
          source="role"
          label="As"
          choices={partner ? [{ id: "partner", name: "one of our organisation's people" }] : [{ id: "funder_staff", name: "one of our staff" }]}
        />
      </SimpleForm>
    </Create>
  );
}
