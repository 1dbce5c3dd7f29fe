"""Place economics: jobs, wages, rents and services by place and year (`markets`) and the public spending
of the levers (`costs`)."""
