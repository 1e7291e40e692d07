/*
 * The controller's admin API (DESIGN.md §1): what shiplogctl speaks to
 * shiplog-controller, over a Unix socket (admin_socket) or TCP (admin_listen,
 * SL_CTL_ADMIN_PORT by default).
 *
 * One JSON object per line each way (at most SL_ADMIN_LINE_MAX bytes, newline
 * included); a connection may carry several requests, answered in order.
 *
 *   request   {"v":1,"token":"...","cmd":"status","args":{...}}
 *   answer    {"v":1,"ok":true,"result":{...}}
 *             {"v":1,"ok":false,"code":"refused","error":"a sentence"}
 *
 * Commands and their args:
 *   read-only (operator or admin token)
 *     status                          cluster and per-node view (below)
 *     members                         {"members":[{"node":1,"learner":false}, ...]}
 *     events   {"since":SEQ,"limit":N} {"events":[{"seq":..,"time_ns":..,"time":"ISO 8601",
 *                                       "kind":"promoted","node":..,"a":..,"b":..,
 *                                       "text":"..."}], "next":SEQ}
 *   privileged (admin token; audited, accepted or not)
 *     failover    {"to":N,"force":false}  ("to" optional: the most up-to-date node)
 *     switchover  {"to":N}
 *     set-policy  {"policy":"first 1 (2,3) level=flushed"}
 *     add-node    {"node":N}
 *     remove-node {"node":N}
 *     snapshot    {"node":N} or {"all":true}  (node N, or every member connected to the
 *                 controller, writes a snapshot; the result adds "asked":[N,...] and
 *                 "skipped":[N,...], the members "all" left out: not connected)
 *
 * status result:
 *   {"cluster":7,"epoch":5,"leader":1,"phase":"steady","policy":"all ...",
 *    "degraded":false,"controller_version":"0.1.0",
 *    "nodes":[{"node":1,"role":"leader","member":"member"|"learner","state":"up"|"lost"|"never",
 *              "epoch":5,"last_lsn":..,"flushed_lsn":..,"applied_lsn":..,"commit_lsn":..,
 *              "snapshot_lsn":..,"wal_first_lsn":..,"snapshots_sent":..,
 *              "snapshots_installed":..,
 *              "lag_records":..,"lag_bytes":..,"lag_us":..,"sync":"sync"|"quorum"|"async"|
 *              "leader"|"learner"|"-","heard_ms_ago":..,"data_addr":"10.77.0.1:7400",
 *              "may_lead":true,"paused":false,"degraded":false}, ...]}
 *   Lag comes from the leader's view of each follower; a node that never reported has
 *   "state":"never" and no LSN fields.
 *
 * Error codes: "unauthorized" (no or wrong token; nothing changed), "bad_request"
 * (the line or its args do not parse), "unknown_command", "refused" (the controller
 * will not do it now; error says why), "busy" (another operation is under way),
 * "not_found" (no such node), "internal".
 */
#ifndef SHIPLOG_ADMIN_H
#define SHIPLOG_ADMIN_H

#define SL_ADMIN_PROTO_VERSION 1
#define SL_ADMIN_LINE_MAX      (1 << 20)

#endif
