/**
 * The driver contract's types, re-exported by each adapter's entry so that its
 * documentation is complete on its own.
 *
 * @module
 */
export type {
  ConnectParams,
  Driver,
  DriverConnection,
  DriverNotice,
  DriverNotification,
  DriverResult,
  SslMode,
} from "../../driver.ts";
