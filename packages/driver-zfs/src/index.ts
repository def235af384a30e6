// Skeleton: the zfs driver lands with its own issue. Until then this package registers nothing.
export const name = 'zfs';
