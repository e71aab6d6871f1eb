import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { CALLBACK_PATH, userManager } from "./auth";

async function start() {
  // The provider sends the person back to /console/callback with a code: exchange it
  // (PKCE), then continue at the console's own address.
  if (window.location.pathname === CALLBACK_PATH) {
    try {
      await userManager.signinRedirectCallback();
    } catch (error) {
      console.error(error);
    }
    window.location.replace("/#/");
    return;
  }
  if (window.location.pathname !== "/") {
    window.location.replace(`/${window.location.hash}`);
    return;
  }
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}

void start();
