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
  usePermissions,
  type LayoutProps,
} from "react-admin";
import { Route } from "react-router-dom";
import { Box, Button, Container, Typography } from "@mui/material";
import { authProvider, switchMembership, type Acting } from "./auth";
import { dataProvider } from "./data";
import { theme } from "./common";
import { Home } from "./home";
import * as S from "./staff";
import * as P from "./partner";
import { PublicFunder } from "./public";

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
      {several ? (
        <Box sx={{ px: 2, py: 1 }}>
          <Button size="small" onClick={() => switchMembership()}>
            Act for another organisation
          </Button>
        </Box>
      ) : null}
    </Menu>
  );
}

// The user menu's accessible name carries the name it shows (WCAG 2.5.3 label in name).
function PersonMenu() {
  const { identity } = useGetIdentity();
  return (
    <UserMenu label={identity?.fullName ?? "Your account"}>
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
          {who?.role === "partner" ? (
            <>
              <Resource name="partners" options={{ label: "Your organisation" }} show={P.MyOrganisation} recordRepresentation="name" />
              <Resource name="updates" list={P.PartnerUpdateList} show={P.PartnerUpdateShow} create={P.PartnerUpdateCreate} />
              <Resource name="grants" list={P.PartnerGrantList} show={S.GrantShow} recordRepresentation="title" />
              <Resource name="payments" list={S.PaymentList} />
              <Resource name="rounds" options={{ label: "Feedback rounds" }} list={P.PartnerRoundList} show={P.PartnerRoundShow} recordRepresentation="title" />
              <Resource name="threads" recordRepresentation="subject" list={S.ThreadList} show={S.ThreadShow} create={() => <S.ThreadCreate partner />} />
              <Resource name="contacts" list={P.ContactList} create={P.ContactCreate} />
              <Resource name="documents" list={P.DocumentList} create={P.DocumentCreate} />
            </>
          ) : (
            <>
              <Resource name="partners" list={S.PartnerList} show={S.PartnerShow} recordRepresentation="name" />
              <Resource name="updates" list={S.UpdateList} show={S.UpdateShow} />
              <Resource name="interactions" list={S.InteractionList} show={S.InteractionShow} create={S.InteractionCreate} />
              <Resource name="grants" list={S.GrantList} show={S.GrantShow} create={S.GrantCreate} recordRepresentation="title" />
              <Resource name="payments" list={S.PaymentList} />
              <Resource name="commitments" list={S.CommitmentList} show={S.CommitmentShow} create={S.CommitmentCreate} />
              <Resource name="rounds" options={{ label: "Feedback rounds" }} list={S.RoundList} show={S.RoundShow} create={S.RoundCreate} recordRepresentation="title" />
              <Resource name="results" list={S.ResultList} />
              <Resource name="actions" list={S.ActionList} create={S.ActionCreate} />
              <Resource name="threads" recordRepresentation="subject" list={S.ThreadList} show={S.ThreadShow} create={S.ThreadCreate} />
              <Resource name="pools" list={S.PoolList} show={S.PoolShow} recordRepresentation="name" />
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
