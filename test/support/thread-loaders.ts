// Imported (for its effect) by the tests and helpers that start worker threads.
//
// Worker threads inherit tap's --import loaders. The TypeScript one (ts-node)
// is by far the slowest to start in every thread (an engine boot, an actor
// and a device worker, took ~4 s longer with it on a loaded 2-core box) and
// is not needed: the tests and the worker files they start are compiled
// JavaScript in dist/. Tap's TypeScript plugin skips it when
// TAP_TYPE_STRIP_ONLY=1, but on Node < 22 sets that to 0 as tap loads; so it
// is set back here, after tap (imported first), for the threads started later.

import 'tap';

process.env.TAP_TYPE_STRIP_ONLY = '1';
