export declare const utf8Encode: (s: string) => Uint8Array<ArrayBuffer>;
export declare const utf8Decode: (b: Uint8Array) => string;
export declare const concat: (parts: Uint8Array[]) => Uint8Array;
export declare const equal: (a: Uint8Array, b: Uint8Array) => boolean;
export declare const hex: (b: Uint8Array) => string;
export declare const random: (n: number) => Uint8Array;
/** Bytes from hex (pairs of hex digits; anything else yields garbage, never throws). */
export declare const fromHex: (h: string) => Uint8Array<ArrayBuffer>;
