// An image's platform as Docker and registries name it: shared by the Docker adapter, the store and the services.
export type Platform = { os: string; architecture: string; variant?: string };
