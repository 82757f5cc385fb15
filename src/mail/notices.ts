/**
 * Security notices: a mail to the account's own address when something about its sign-in
 * changed. Each names what happened, when, from which address and browser, and what to do if it
 * was not them. None carries a link that signs in (nor any link but the server's address).
 */
import { describeBrowser } from "./browser.js";
import type { Notifier } from "./notifier.js";

export type NoticeEvent =
  | "password_changed"
  | "second_factor_added"
  | "second_factor_removed"
  | "passkey_added"
  | "email_changed"
  | "account_disabled"
  | "new_browser";

const ASK_ADMIN = "tell your administrator at once; they can end every session of the account and reset its password.";

const NOTICES: Record<NoticeEvent, { headline: string; what: string; advice: string }> = {
  password_changed: {
    headline: "Your password was changed",
    what: "the account's password was changed, and its other sessions were ended",
    advice: `choose a new password with "Forgot your password?" on the sign-in page, and ${ASK_ADMIN}`,
  },
  second_factor_added: {
    headline: "A second factor was added",
    what: "an authenticator app (TOTP) was set up as the account's second factor",
    advice: `someone knows your password: ${ASK_ADMIN}`,
  },
  second_factor_removed: {
    headline: "Your second factor was removed",
    what: "the account's authenticator app (TOTP) and its recovery codes were removed",
    advice: `someone may have access to your account: ${ASK_ADMIN}`,
  },
  passkey_added: {
    headline: "A passkey was added",
    what: "a new passkey was registered; it signs in to the account without a password",
    advice: `someone may have access to your account: ${ASK_ADMIN}`,
  },
  email_changed: {
    headline: "Your email address was changed",
    what: "the account's email address was changed; mail about the account now goes to the new address",
    advice: ASK_ADMIN,
  },
  account_disabled: {
    headline: "Your account was disabled",
    what: "the account was disabled: it cannot sign in, and its sessions were ended",
    advice: "ask your administrator why.",
  },
  new_browser: {
    headline: "New sign-in from a browser not seen before",
    what: "the account signed in from a browser it had not signed in from before",
    advice: `change your password on the account page (or with "Forgot your password?"), and ${ASK_ADMIN}`,
  },
};

export interface NoticeContext {
  /** Where the change came from: the client address, or "the command line". */
  addr: string;
  userAgent?: string | undefined;
  now: number;
  /** Details added to `what`, e.g. the new address for email_changed. */
  detail?: string | undefined;
}

/**
 * Queues the notice to `address` (default the account's email); false when there is no
 * notifier, no address, or the message was refused. Never throws, never waits.
 */
export function sendNotice(
  notifier: Notifier | null,
  account: { username: string; name: string; email: string },
  event: NoticeEvent,
  context: NoticeContext,
  address: string = account.email,
): boolean {
  if (notifier === null || address === "") return false;
  const notice = NOTICES[event];
  return notifier.send("notice", { address, name: account.name, username: account.username }, {
    username: account.username,
    headline: notice.headline,
    what: context.detail === undefined ? notice.what : `${notice.what} (${context.detail})`,
    advice: notice.advice,
    when: new Date(context.now * 1000).toUTCString(),
    addr: context.addr,
    browser: context.userAgent === undefined ? "no browser" : describeBrowser(context.userAgent),
  });
}
