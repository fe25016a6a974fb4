#!/usr/bin/env bash
# Read by abra for this recipe.
#
# Versions of swarm configs: abra exports these into the deploy environment. Configs cannot change in place,
# so bump a version whenever its file changes (abra lint R012).
export ENTRYPOINT_VERSION=v1
#
# No `abra app cmd` functions: the kiwix-serve image has no bash. To see what is being served:
#   abra app run <domain> app kiwix-manage /tmp/library.xml show
