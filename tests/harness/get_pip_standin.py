# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# ansible-test bootstraps pip into its venvs with a script it downloads; build
# machines without that host get this stand-in, which uses the standard library.
import ensurepip
import sys

sys.exit(ensurepip._main(["--upgrade", "--default-pip"]))
