// Lumamesh browser library: the public entry. `connect()` links this page to a relay.
import { createNet, type ConnectOptions, type Net } from "./net.ts";

export { ConnectError, type ConnectOptions, type Net, type NetEvents, type Attempt } from "./net.ts";
export type { SourceReport } from "./discover.ts";
export type { Room, Peer, RoomError, JoinOptions, RoomEvents, PeerEvents, Path } from "./room.ts";
export { LinkError, type RelayInfo, type FailReason } from "./link.ts";

/** Connect to the Lumamesh network through the first relay that answers. */
export function connect(options: ConnectOptions = {}): Promise<Net> {
  return createNet(options);
}
