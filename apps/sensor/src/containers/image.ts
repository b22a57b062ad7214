/**
 * Splits an image reference into repository and tag the way Falco's container
 * plugin does: a digest (`@sha256:…`) is dropped first, and only a colon after
 * the last slash starts a tag, so a registry port (`host:5000/app`) stays in
 * the repository.
 */
export function splitImageReference(image: string): { repository: string; tag: string } {
  if (image === '') return { repository: '', tag: '' };
  const at = image.indexOf('@');
  const withoutDigest = at === -1 ? image : image.slice(0, at);
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  if (lastColon === -1 || (lastSlash !== -1 && lastColon < lastSlash)) return { repository: withoutDigest, tag: '' };
  return { repository: withoutDigest.slice(0, lastColon), tag: withoutDigest.slice(lastColon + 1) };
}
