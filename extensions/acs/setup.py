"""Build hook: the wheel carries the collection's own JWT code.

The account server and the collection's modules must agree on every JWT
rule, so there is a single implementation, plugins/module_utils/nats_jwt.py.
It is copied into the wheel as cmsgs_acs/nats_jwt.py while the wheel is
built; the source tree never holds a second copy.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# extensions/acs -> the collection root.
SHARED_JWT = os.path.join(HERE, "..", "..", "plugins", "module_utils", "nats_jwt.py")


class BuildPyWithSharedJwt(build_py):
    def run(self):
        super().run()
        if not os.path.isfile(SHARED_JWT):
            raise SystemExit(
                "cannot build cmsgs-acs: %s is missing; build the wheel from extensions/acs "
                "inside the collection (the repository or an installed cmsgs.nats)" % os.path.normpath(SHARED_JWT))
        target = os.path.join(self.build_lib, "cmsgs_acs", "nats_jwt.py")
        self.mkpath(os.path.dirname(target))
        self.copy_file(SHARED_JWT, target, preserve_mode=False)


setup(cmdclass={"build_py": BuildPyWithSharedJwt})
