// The werift adapter's front: everything the rest of the project uses from it, in one place.
// Certificates (relay/cert.ts, no werift), sessions (relay/session.ts) and the patches werift gets
// (relay/werift-patches.ts, applied by patchWerift(), which the first session calls). Only
// relay/session.ts and relay/werift-patches.ts import werift itself.
import { _internal as cert } from "./cert.ts";
import { _internal as session } from "./session.ts";

export { certificateFromPem, certificateToPem, fingerprintOf, generateCertificate, P256_OID_DER, type Certificate } from "./cert.ts";
export { createClientSession, createServerSession, type ChannelSession, type SessionHandlers, type SessionLimits } from "./session.ts";
export { patchWerift, x25519, x25519KeyPair } from "./werift-patches.ts";

/** Internals for tests. */
export const _internal = /* @__PURE__ */ Object.freeze({ ...cert, ...session });
