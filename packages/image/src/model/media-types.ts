// The media types of OCI image-spec v1.1 and Docker's schema 2 that images are made of.

/** The media types images are made of, by short name (OCI's, then Docker's schema 2 and 1). */
export const MediaType = {
  /** OCI image index: one manifest per platform. */
  Index: 'application/vnd.oci.image.index.v1+json',
  /** OCI image manifest. */
  Manifest: 'application/vnd.oci.image.manifest.v1+json',
  /** OCI image config. */
  Config: 'application/vnd.oci.image.config.v1+json',
  /** OCI layer, an uncompressed tar. */
  Layer: 'application/vnd.oci.image.layer.v1.tar',
  /** OCI layer, a gzip-compressed tar. */
  LayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  /** OCI layer, a zstd-compressed tar. */
  LayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Docker schema 2 manifest list (the index's equivalent). */
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  /** Docker schema 2 manifest. */
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  /** Docker image config. */
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  /** Docker layer, an uncompressed tar. */
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  /** Docker layer, a gzip-compressed tar. */
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  /** Docker schema 1 manifest: refused (ERR_UNSUPPORTED_IMAGE). */
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  /** Signed Docker schema 1 manifest: refused (ERR_UNSUPPORTED_IMAGE). */
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export const INDEX_TYPES: readonly string[] = [MediaType.Index, MediaType.DockerManifestList];
export const MANIFEST_TYPES: readonly string[] = [MediaType.Manifest, MediaType.DockerManifest];
export const SCHEMA1_TYPES: readonly string[] = [MediaType.DockerSchema1, MediaType.DockerSchema1Signed];

/** Every manifest type a registry may be asked for (the `Accept` list). */
export const ACCEPTED_MANIFEST_TYPES: readonly string[] = [...MANIFEST_TYPES, ...INDEX_TYPES];

export const isIndexType = (mt: string) => INDEX_TYPES.includes(mt);
export const isManifestType = (mt: string) => MANIFEST_TYPES.includes(mt);

/** Layer media types we apply (including the non-distributable variants of the same tars). */
export function isLayerMediaType(mt: string): boolean {
  return (
    /^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar(\+gzip|\+zstd)?$/.test(mt) ||
    /^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar(\.gzip)?$/.test(mt)
  );
}

/** How a layer blob is compressed, as its media type says. */
export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** The layer media type of `compression` in the family (OCI or Docker) of a manifest type. */
export function layerMediaType(manifestType: string, compression: LayerCompression): string {
  if (manifestType === MediaType.DockerManifest) {
    if (compression === 'zstd') return MediaType.LayerZstd; // Docker has no zstd type of its own
    return compression === 'gzip' ? MediaType.DockerLayerGzip : MediaType.DockerLayer;
  }
  return compression === 'gzip' ? MediaType.LayerGzip : compression === 'zstd' ? MediaType.LayerZstd : MediaType.Layer;
}
