"""python -m cmsgs_acs --config FILE"""

from cmsgs_acs.cli import main

main()
