// The CryptoProvider for pages without WebCrypto. crypto.subtle exists only in secure contexts, so
// an inscription viewed through an ord server on plain HTTP at a LAN address has none. This file is
// bundled as its OWN module; the core imports it dynamically only when crypto.subtle is missing, so
// secure pages never download it. Output must match webCrypto byte for byte (test/src/fallback.test.ts).
// Deep imports keep the bundle to SHA-256, HMAC, PBKDF2, HKDF and AES-GCM.

import { gcm } from "@noble/ciphers/aes.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { pbkdf2Async } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { CryptoProvider } from "./seal.ts";

export const nobleCrypto: CryptoProvider = {
  // pbkdf2Async yields to the event loop so the page stays responsive during the ~¼ s derivation.
  pbkdf2: (pw, salt, c, dkLen) => pbkdf2Async(sha256, pw, salt, { c, dkLen }),
  // An empty salt is HMAC'd as HashLen zero bytes, exactly RFC 5869's default (and WebCrypto's).
  hkdf: async (ikm, salt, info, n) => hkdf(sha256, ikm, salt, info, n),
  seal: async (k, iv, ad, pt) => gcm(k, iv, ad).encrypt(pt),
  open: async (k, iv, ad, ct) => {
    try {
      return gcm(k, iv, ad).decrypt(ct);
    } catch {
      return null;
    }
  },
  sha256: async (d) => sha256(d),
};
