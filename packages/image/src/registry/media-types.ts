// The manifest media types a registry may answer, and which of them we take.
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What we send as Accept for manifests: schema 2 and OCI, never schema 1. */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestList, MediaType.DockerManifest];

export const isIndexType = (t: string): boolean => t === MediaType.OciIndex || t === MediaType.DockerManifestList;
export const isImageManifestType = (t: string): boolean => t === MediaType.OciManifest || t === MediaType.DockerManifest;
export const isSchema1Type = (t: string): boolean => t === MediaType.DockerSchema1 || t === MediaType.DockerSchema1Signed;
