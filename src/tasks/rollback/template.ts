// Pod templates compared as the deployment controller compares them (EqualIgnoreHash), and what a ReplicaSet's template runs.
import { POD_TEMPLATE_HASH_LABEL, toWire, type PodTemplate } from './objects.ts';

export interface ContainerImage {
  container: string;
  image: string;
}

/** kubectl's equalIgnoreHash: templates equal apart from the pod-template-hash label (nil and empty count as equal, as Semantic.DeepEqual). */
export function equalIgnoreHash(a: PodTemplate, b: PodTemplate): boolean {
  return canonicalJson(withoutHashLabel(a)) === canonicalJson(withoutHashLabel(b));
}

export function withoutHashLabel(template: PodTemplate): PodTemplate {
  const copy = toWire(template) as PodTemplate;
  if (copy.metadata?.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  return copy;
}

function canonicalJson(value: unknown): string {
  const normalize = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(normalize);
    if (item === null || typeof item !== 'object') return item;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort()) {
      const inner = normalize((item as Record<string, unknown>)[key]);
      const empty =
        inner === null ||
        inner === undefined ||
        (Array.isArray(inner) && inner.length === 0) ||
        (typeof inner === 'object' && !Array.isArray(inner) && Object.keys(inner as object).length === 0);
      if (!empty) out[key] = inner;
    }
    return out;
  };
  return JSON.stringify(normalize(value));
}
export function imagesOf(template: PodTemplate): ContainerImage[] {
  return template.spec.containers.map((container) => ({ container: container.name, image: container.image ?? '' }));
}

export function formatImages(images: ContainerImage[]): string {
  if (images.length === 1) return images[0]!.image;
  return images.map((entry) => `${entry.container}=${entry.image}`).join(', ');
}
