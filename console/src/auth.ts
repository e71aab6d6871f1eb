// Sign-in: OpenID Connect authorization code with PKCE against the gateway (the issuer),
// through oidc-client-ts; react-admin asks this authProvider who the person is.
import { UserManager, WebStorageStateStore, type User } from "oidc-client-ts";
import type { AuthProvider } from "react-admin";

export const CLIENT_ID = "trellis-console";
export const CALLBACK_PATH = "/console/callback";

const origin = window.location.origin;

export const userManager = new UserManager({
  authority: origin,
  client_id: CLIENT_ID,
  redirect_uri: `${origin}${CALLBACK_PATH}`,
  post_logout_redirect_uri: `${origin}/console/`,
  response_type: "code",
  scope: "openid profile email offline_access",
  // Refresh tokens renew the short-lived access token before it expires, without a page.
  automaticSilentRenew: true,
  loadUserInfo: true,
  userStore: new WebStorageStateStore({ store: window.sessionStorage }),
});

/** Whom a signed-in person acts for, from the access token's claims and userinfo. */
export interface Membership {
  id: string;
  role: string;
  funder_id: string | null;
  partner_id: string | null;
  label: string;
}

export interface Acting {
  role: "funder_staff" | "partner" | "platform_admin" | "none";
  funderId: string | null;
  partnerId: string | null;
  membershipId: string | null;
  memberships: Membership[];
  /** Every role the token carries: finance and trustee come on top of funder_staff. */
  roles: string[];
}

/** Whether the person may prepare and approve payment runs, set budgets and confirm bank details. */
export const isFinance = (who: Acting | undefined) => Boolean(who?.roles.includes("finance"));

function claims(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(decodeURIComponent(escape(json))) as Record<string, unknown>;
}

export function acting(user: User | null): Acting {
  if (!user) return { role: "none", funderId: null, partnerId: null, membershipId: null, memberships: [], roles: [] };
  const c = claims(user.access_token);
  const roles = (c.roles as string[] | undefined) ?? [];
  const role = roles.includes("funder_staff")
    ? "funder_staff"
    : roles.includes("partner")
      ? "partner"
      : roles.includes("platform_admin")
        ? "platform_admin"
        : "none";
  return {
    role,
    funderId: (c.funder_id as string | undefined) ?? null,
    partnerId: (c.partner_id as string | undefined) ?? null,
    membershipId: (c.mid as string | undefined) ?? null,
    memberships: ((user.profile as Record<string, unknown>).memberships as Membership[] | undefined) ?? [],
    roles,
  };
}

let current: User | null = null;

export async function currentUser(): Promise<User | null> {
  if (current && !current.expired) return current;
  const stored = await userManager.getUser();
  if (stored && !stored.expired) {
    current = stored;
    return stored;
  }
  if (stored?.refresh_token) {
    try {
      current = await userManager.signinSilent();
      return current;
    } catch {
      await userManager.removeUser();
    }
  }
  current = null;
  return null;
}

userManager.events.addUserLoaded((user) => {
  current = user;
});
userManager.events.addUserUnloaded(() => {
  current = null;
});
userManager.events.addSilentRenewError(() => {
  current = null;
});

/** Ask the provider again, so a person with several memberships can choose another. */
export function switchMembership(): Promise<void> {
  return userManager.signinRedirect({ prompt: "login" });
}

export const authProvider: AuthProvider = {
  async login() {
    await userManager.signinRedirect();
  },
  async logout() {
    const user = await userManager.getUser();
    current = null;
    if (user) {
      await userManager.removeUser();
      await userManager.signoutRedirect({ id_token_hint: user.id_token });
      return false;
    }
    return undefined;
  },
  async checkAuth() {
    if (!(await currentUser())) throw new Error("Sign in to continue.");
  },
  async checkError(error: { status?: number }) {
    if (error?.status === 401) {
      const user = await currentUser();
      if (!user) throw new Error("Your sign-in has ended. Sign in again.");
    }
  },
  async getIdentity() {
    const user = await currentUser();
    if (!user) throw new Error("Not signed in.");
    const who = acting(user);
    const membership = who.memberships.find((m) => m.id === who.membershipId);
    const name = (user.profile.name as string | undefined) ?? user.profile.email ?? "You";
    return { id: user.profile.sub, fullName: membership ? `${name} (${membership.label})` : name };
  },
  async getPermissions() {
    return acting(await currentUser());
  },
  async handleCallback() {
    await userManager.signinRedirectCallback();
  },
};
