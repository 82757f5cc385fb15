/** What a command that changed one credential left in place, so the admin knows what still signs the user in. */
import { keptSentence, listCredentials } from "../factors/credentials.js";
import type { Store } from "../store/store.js";
import { print } from "./context.js";

export async function printKept(store: Store, username: string, options: { password: boolean }): Promise<void> {
  const sentence = keptSentence(await listCredentials(store, username), options);
  if (sentence !== null) print(sentence.replace("NAME", username));
}
