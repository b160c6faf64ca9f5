import { createAdvancedClient } from "@scaleway/sdk-client"; globalThis.x=[createAdvancedClient];
