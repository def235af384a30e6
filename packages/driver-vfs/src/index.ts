// Skeleton: the vfs driver lands with its own issue. Until then this package registers nothing.
export const name = 'vfs';
