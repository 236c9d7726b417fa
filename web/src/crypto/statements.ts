// The signed statements of docs/e2ee.md §1: what a device signs, as ASCII strings joined by ":". The server
// checks them before it stores a key; a client checks them again after query_keys and claim_keys, so a
// server that swaps a key is caught.
import { verifyEd25519, type Account } from "./olm";
import type { DeviceKeys, OneTimeKey } from "./wire";

export type { DeviceKeys, OneTimeKey } from "./wire";

export const deviceKeysStatement = (user: number, device: string, identityKey: string, signingKey: string): string =>
  `chatd-device-keys:v1:${user}:${device}:${identityKey}:${signingKey}`;

export const oneTimeKeyStatement = (user: number, device: string, keyId: string, key: string): string =>
  `chatd-otk:v1:${user}:${device}:${keyId}:${key}`;

export function signDeviceKeys(account: Account, user: number, device: string): DeviceKeys {
  const identity_key = account.identityKey;
  const signing_key = account.signingKey;
  return { identity_key, signing_key, signature: account.sign(deviceKeysStatement(user, device, identity_key, signing_key)) };
}

export function signOneTimeKey(account: Account, user: number, device: string, keyId: string, key: string): OneTimeKey {
  return { key_id: keyId, key, signature: account.sign(oneTimeKeyStatement(user, device, keyId, key)) };
}

export const verifyDeviceKeys = (user: number, device: string, k: DeviceKeys): boolean =>
  verifyEd25519(k.signing_key, deviceKeysStatement(user, device, k.identity_key, k.signing_key), k.signature);

export const verifyOneTimeKey = (signingKey: string, user: number, device: string, k: OneTimeKey): boolean =>
  verifyEd25519(signingKey, oneTimeKeyStatement(user, device, k.key_id, k.key), k.signature);
