// Stand-in for webrtc-polyfill: bittorrent-tracker's server (all the bench runs) never uses WebRTC.
const missing = (name) =>
  class {
    constructor() {
      throw new Error(`webrtc-polyfill stub: ${name} is not available in the bench`);
    }
  };
export const RTCPeerConnection = globalThis.RTCPeerConnection ?? missing("RTCPeerConnection");
export const RTCSessionDescription = globalThis.RTCSessionDescription ?? missing("RTCSessionDescription");
export const RTCIceCandidate = globalThis.RTCIceCandidate ?? missing("RTCIceCandidate");
export const RTCDataChannel = globalThis.RTCDataChannel ?? missing("RTCDataChannel");
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate, RTCDataChannel };
