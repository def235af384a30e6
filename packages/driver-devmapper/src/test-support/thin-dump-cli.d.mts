export function thinDeviceIdsOf(metadataFile: string): number[];
