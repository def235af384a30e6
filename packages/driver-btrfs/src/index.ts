// Skeleton: the btrfs driver lands with its own issue. Until then this package registers nothing.
export const name = 'btrfs';
