"""The latent world at the start of the logs, built once and kept apart from the day loop,
so a different logging policy can be run against the very same world."""

from __future__ import annotations

from dataclasses import dataclass

from circlerank.progress import step

from .activity import Payments, Transfers, make_payments, make_transfers
from .circles import Circles, make_circles
from .config import US_PER_DAY, SimConfig, rng_for
from .credit import CreditHistory, make_credit
from .follows import add_follows
from .memberships import Intervals, OrganicSchedule, organic_schedule, prelog_memberships
from .population import Merchants, Users, make_merchants, make_users
from .posts import Posts, write_posts
from .social import Ties, make_ties


@dataclass
class World:
    """Everything that does not depend on what the logging policy shows."""

    config: SimConfig
    users: Users
    merchants: Merchants
    credit: CreditHistory
    ties: Ties
    circles: Circles
    memberships: Intervals  # formed before the logs (some end during them)
    organic: OrganicSchedule
    posts: Posts  # written before the logs
    payments: Payments | None  # None: a world without payments (nor merchants written)
    transfers: Transfers


def build_world(cfg: SimConfig) -> World:
    """Draw the latent world; each component has its own random stream."""
    seed = cfg.seed
    with step("simulate: users, merchants, credit, ties"):
        users = make_users(cfg, rng_for(seed, "users"))
        merchants = make_merchants(cfg, rng_for(seed, "merchants"))
        credit = make_credit(cfg, rng_for(seed, "credit"), users)
        ties = make_ties(cfg, rng_for(seed, "ties"), users)
    with step("simulate: circles and memberships"):
        circles = make_circles(cfg, rng_for(seed, "circles"), users, credit)
        members = prelog_memberships(
            cfg, rng_for(seed, "memberships"), users, circles, ties, credit
        )
        ties = add_follows(cfg, rng_for(seed, "follows"), users, circles, members, ties)
        organic = organic_schedule(cfg, rng_for(seed, "organic"), users, circles, ties, members)
        t0 = cfg.start_us - cfg.params.prelog_post_days * US_PER_DAY
        posts = write_posts(
            cfg, rng_for(seed, "prelog_posts"), users, circles, members, t0, cfg.start_us
        )
    with step("simulate: payments and transfers"):
        payments = (
            make_payments(cfg, rng_for(seed, "payments"), users, merchants)
            if cfg.params.writes_payments
            else None
        )
        transfers = make_transfers(cfg, rng_for(seed, "transfers"), ties, users.n_people)
    return World(
        cfg, users, merchants, credit, ties, circles, members, organic, posts, payments, transfers
    )
