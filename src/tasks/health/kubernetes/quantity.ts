// Kubernetes resource quantities for memory ("512Mi", "1G", "129e6", "1500m") as bytes, as apimachinery's resource.Quantity reads them.

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E)?)$/;

/** Bytes, or undefined for a missing or malformed quantity. */
export function memoryBytes(quantity: string | undefined | null): number | undefined {
  if (!quantity) return undefined;
  const match = QUANTITY.exec(quantity.trim());
  if (!match) return undefined;
  const [, number, binary, exponent, decimal] = match;
  const value = Number(number);
  if (binary) return value * BINARY[binary]!;
  if (exponent) return value * 10 ** Number(exponent.slice(1));
  return value * DECIMAL[decimal ?? '']!;
}
