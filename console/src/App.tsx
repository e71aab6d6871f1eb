import {
  Admin,
  AppBar,
  CustomRoutes,
  Layout,
  Logout,
  Menu,
  Resource,
  UserMenu,
  useGetIdentity,
  useUserMenu,
  usePermissions,
  type LayoutProps,
} from "react-admin";
import { Link, Route } from "react-router-dom";
import { Button, Container, ListItemText, MenuItem, Typography } from "@mui/material";
import { authProvider, switchMembership, type Acting } from "./auth";
import { dataProvider } from "./data";
import { theme } from "./common";
import { Home } from "./home";
import * as S from "./staff";
import * as F from "./feedback";
import * as P from "./partner";
import { PublicFunder } from "./public";
import * as M from "./money";
import { PoolList, PoolShow } from "./pools";
import * as H from "./hooks";
import * as O from "./people";
import { AuditList, SearchList } from "./find";
import { ImportPage, TakeoutPage } from "./tools";
import { NotificationsPage } from "./notifications";
import { RequestList, RequestShow } from "./requests";
import * as L from "./learning";

function SignIn() {
  return (
    <Container component="main" maxWidth="sm" sx={{ py: 8 }}>
      <Typography variant="h4" component="h1" gutterBottom>
        Trellis
      </Typography>
      <Typography sx={{ mb: 3 }}>For a funder's staff and the people of the organisations it funds.</Typography>
      <Button variant="contained" size="large" onClick={() => authProvider.login({})}>
        Sign in
      </Button>
    </Container>
  );
}

function RoleMenu() {
  const { permissions } = usePermissions<Acting>();
  const several = (permissions?.memberships.length ?? 0) > 1;
  return (
    <Menu>
      <Menu.DashboardItem primaryText="Home" />
      <Menu.ResourceItems />
      {permissions?.role === "partner" ? null : (
        <>
          <Menu.Item to="/forecast" primaryText="Forecast" />
          <Menu.Item to="/finance-settings" primaryText="Finance settings" />
          <Menu.Item to="/import" primaryText="Import" />
        </>
      )}
      <Menu.Item to="/takeout" primaryText="Takeout" />
      {several ? <MenuItem onClick={() => switchMembership()}>Act for another organisation</MenuItem> : null}
    </Menu>
  );
}

/** The person's own notification preferences, whichever side they act for. */
function NotificationsItem() {
  const userMenu = useUserMenu();
  return (
    <MenuItem component={Link} to="/notifications" onClick={() => userMenu?.onClose()}>
      <ListItemText>Notifications</ListItemText>
    </MenuItem>
  );
}

// The user menu's accessible name carries the name it shows (WCAG 2.5.3 label in name).
function PersonMenu() {
  const { identity } = useGetIdentity();
  return (
    <UserMenu label={identity?.fullName ?? "Your account"}>
      <NotificationsItem />
      <Logout />
    </UserMenu>
  );
}

const TrellisBar = () => <AppBar userMenu={<PersonMenu />} color="primary" />;

const AppLayout = (props: LayoutProps) => <Layout {...props} menu={RoleMenu} appBar={TrellisBar} />;

export function App() {
  return (
    <Admin
      title="Trellis"
      dataProvider={dataProvider}
      authProvider={authProvider}
      loginPage={SignIn}
      dashboard={Home}
      layout={AppLayout}
      theme={theme}
      disableTelemetry
    >
      {(who: Acting) => (
        <>
          <CustomRoutes noLayout>
            <Route path="/public/:slug" element={<PublicFunder />} />
          </CustomRoutes>
          <CustomRoutes>
            <Route path="/takeout" element={<TakeoutPage />} />
            <Route path="/notifications" element={<NotificationsPage />} />
            {who?.role === "partner" ? null : (
              <>
                <Route path="/forecast" element={<M.ForecastPage />} />
                <Route path="/finance-settings" element={<M.FinanceSettingsPage />} />
                <Route path="/import" element={<ImportPage />} />
              </>
            )}
          </CustomRoutes>
          {who?.role === "partner" ? (
            <>
              <Resource name="partners" options={{ label: "Your organisation" }} show={P.MyOrganisation} recordRepresentation="name" />
              <Resource name="updates" list={P.PartnerUpdateList} show={P.PartnerUpdateShow} create={P.PartnerUpdateCreate} />
              <Resource name="grants" list={P.PartnerGrantList} show={S.GrantShow} recordRepresentation="title" />
              <Resource name="payments" list={S.PaymentList} />
              <Resource name="grant-requests" options={{ label: "Your requests" }} list={RequestList} show={RequestShow} />
              <Resource name="rounds" options={{ label: "Feedback rounds" }} list={P.PartnerRoundList} show={P.PartnerRoundShow} recordRepresentation="title" />
              <Resource name="threads" recordRepresentation="subject" list={S.ThreadList} show={S.ThreadShow} create={() => <S.ThreadCreate partner />} />
              <Resource name="gatherings" list={() => <L.GatheringList partner />} show={() => <L.GatheringShow partner />} recordRepresentation="title" />
              <Resource name="contacts" list={P.ContactList} create={P.ContactCreate} edit={P.ContactEdit} />
              <Resource name="documents" list={P.DocumentList} create={P.DocumentCreate} />
              <Resource name="search" options={{ label: "Search" }} list={() => <SearchList partner />} />
              <Resource name="webhooks" list={H.WebhookList} show={H.WebhookShow} create={H.WebhookCreate} edit={H.WebhookEdit} />
              <Resource name="people" list={O.PeopleList} recordRepresentation="name" />
              <Resource name="memberships" list={O.MembershipList} />
              <Resource name="invitations" list={O.InvitationList} create={O.InvitationCreate} />
              <Resource name="audit" options={{ label: "Audit trail" }} list={AuditList} />
            </>
          ) : (
            <>
              <Resource name="partners" list={S.PartnerList} show={S.PartnerShow} recordRepresentation="name" />
              <Resource name="updates" list={S.UpdateList} show={S.UpdateShow} />
              <Resource name="interactions" list={S.InteractionList} show={S.InteractionShow} create={S.InteractionCreate} />
              <Resource name="grants" list={S.GrantList} show={S.GrantShow} create={S.GrantCreate} recordRepresentation="title" />
              <Resource name="payments" list={S.PaymentList} />
              <Resource name="grant-requests" options={{ label: "Grant requests" }} list={RequestList} show={RequestShow} />
              <Resource name="commitments" list={F.CommitmentList} show={F.CommitmentShow} create={F.CommitmentCreate} />
              <Resource name="rounds" options={{ label: "Feedback rounds" }} list={F.RoundList} show={F.RoundShow} create={F.RoundCreate} edit={F.RoundEdit} recordRepresentation="title" />
              <Resource name="results" list={F.ResultList} />
              <Resource name="actions" list={F.ActionList} create={F.ActionCreate} edit={F.ActionEdit} />
              <Resource name="threads" recordRepresentation="subject" list={S.ThreadList} show={S.ThreadShow} create={S.ThreadCreate} />
              <Resource name="learning-notes" options={{ label: "Learning notes" }} list={L.LearningNoteList} show={L.LearningNoteShow} create={L.LearningNoteCreate} edit={L.LearningNoteEdit} recordRepresentation="title" />
              <Resource name="tags" options={{ label: "Themes" }} list={L.TagList} />
              <Resource name="gatherings" list={L.GatheringList} show={L.GatheringShow} create={L.GatheringCreate} edit={L.GatheringEdit} recordRepresentation="title" />
              <Resource name="pools" list={PoolList} show={PoolShow} recordRepresentation="name" />
              <Resource name="payment-runs" options={{ label: "Payment runs" }} list={M.PaymentRunList} show={M.PaymentRunShow} create={M.PaymentRunCreate} />
              <Resource name="budgets" list={M.BudgetList} create={M.BudgetCreate} edit={M.BudgetEdit} />
              <Resource name="search" options={{ label: "Search" }} list={() => <SearchList />} />
              <Resource name="audit" options={{ label: "Audit trail" }} list={AuditList} />
              <Resource name="webhooks" list={H.WebhookList} show={H.WebhookShow} create={H.WebhookCreate} edit={H.WebhookEdit} />
              <Resource name="people" list={O.PeopleList} recordRepresentation="name" />
              <Resource name="memberships" list={O.MembershipList} />
              <Resource name="invitations" list={O.InvitationList} create={O.InvitationCreate} />
              <Resource name="variations" />
              <Resource name="documents" />
              <Resource name="contacts" />
            </>
          )}
        </>
      )}
    </Admin>
  );
}
