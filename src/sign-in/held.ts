/** The second factors a user has enrolled, as the journey asks about them. */
import type { Store } from "../store/store.js";
import type { FactorsHeld } from "./steps.js";

export async function factorsHeld(store: Store, username: string): Promise<FactorsHeld> {
  const [totp, passkeys] = await Promise.all([store.factors.getTotp(username), store.factors.listPasskeys(username)]);
  return { totp: totp !== null, passkey: passkeys.length > 0 };
}
