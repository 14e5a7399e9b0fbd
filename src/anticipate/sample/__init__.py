"""A seeded synthetic retail world whose true purchase probabilities are known exactly.

``generate_world(SampleConfig)`` draws a world from ``numpy.random.Generator(PCG64(seed))``
and simulates ``days`` days of order lines from ``start`` (day resolution; each order
gets a uniform time of day between 06:00 and 23:00). The generative process:

* **Regions**: ``R`` cities clustered around six hubs in a continent-sized box
  (lat 36..60, lon -10..30), each with a lognormal population weight.
  **Warehouses** sit beside the ``W`` most populous regions; capacities (volume) are a
  fraction of the volume those regions order in a late week, and central **supply**
  per SKU is 0.4-1.5 weeks of its late sales, so both bind in a typical week.
* **SKUs**: ``S`` SKUs sorted into ``C`` categories. Popularity is Zipf-like (exponent
  0.9, shuffled, lognormal noise), drifts with a per-SKU log-linear trend (sd 0.6 per
  year) and follows its category's yearly seasonality (amplitude 0-0.6, random phase);
  ``weekly_popularity`` is the resulting choice distribution of each week. Each SKU
  also has a lognormal unit volume and base price, a mean extra quantity per line
  (0.05, 0.2 or 0.6), a typical replenishment cycle (lognormal around 35 days) and a
  regularity ``kappa`` (4, 10 or 20: the gap CV is 1 / sqrt(kappa)).
* **Customers**: a home region (by population); an arrival day (60% exist at the start,
  the rest arrive uniformly over the period); a latent lapse day: alive on days
  ``arrival <= d < death`` with ``death - arrival`` geometric with a daily hazard
  ``delta = 1 / U(150, 900)`` (lapsed customers never return); a browse rate ``lam``
  (Gamma, shape 1.2, mean 1/40 orders per day); an affinity category (by popularity)
  with a choice boost ``1 + lognormal(log 3, 0.5)``; and 0-5 favourite SKUs
  (Binomial(5, 0.45); 60% from the affinity category), each with its own mean cycle
  (the SKU's x lognormal(0, 0.3), days).
* **Browse orders**: while alive, a Poisson process with daily mean ``lam * m(d)``,
  where ``m`` = weekday profile x yearly season (a sine plus a December peak). An order
  has ``K = 1 + Poisson(MU_K)`` lines; each line is SKU ``i`` with probability
  ``q = pop_week(i) * (boost if category(i) is the affinity else 1) / Z`` (``Z``
  normalises).
* **Replenishment orders**: each favourite is re-bought on the days of a renewal
  process with gaps ``max(1, ceil(Gamma(kappa, cycle / kappa)))`` days, started from a
  latent anchor up to two cycles before arrival; an event is an order line when the
  customer is alive that day (a customer's events of one day form one order).
* **Lines**: quantity ``1 + Poisson(qty_extra)`` (a SKU drawn twice in an order is one
  line with the quantities added); unit price = base price x (1 + N(0, 0.02)); 5% of
  orders ship to a uniformly chosen region instead of home.

So recency and frequency carry signal, but so do things a plain recency/frequency or
BG/NBD model does not see: each favourite's own rhythm (days since its last purchase
relative to its usual gap), the category affinity, SKU trends and category seasons.

**Truth** (:mod:`anticipate.sample.truth`): given the latent state at a cutoff ``t``
(alive or not; each favourite's last event before ``t``), browse orders are Poisson,
renewals have known conditional survival and the lapse is memoryless, so
``P(pair orders in [t, t + H))`` and the expected units per region and SKU are exact
(no Monte Carlo), for SKUs or categories. :func:`write_world` stores the latent state
under ``latent/`` so the truth can be recomputed at any cutoff inside the world.
"""

from .simulate import generate_world
from .store import LATENT_DIR, latent_of, load_latent, write_world
from .truth import cutoff_day, true_probabilities, true_region_demand
from .world import AWAY_SHARE, MU_K, Latent

__all__ = [
    "AWAY_SHARE",
    "LATENT_DIR",
    "MU_K",
    "Latent",
    "cutoff_day",
    "generate_world",
    "latent_of",
    "load_latent",
    "true_probabilities",
    "true_region_demand",
    "write_world",
]
