"""PPO (CleanRL-style, discrete actions) on a hand-written environment: an agent on a ring of
cells must walk to a goal cell. Actor-critic with orthogonal init (layer_init), a
torch.distributions.Categorical policy (sample, log_prob, entropy), GAE advantages computed
backwards with torch.zeros_like, clipped surrogate + clipped value loss, minibatches over
np.random.permutation, approx_kl under no_grad, Adam(eps=1e-5) with a linearly annealed lr.
Then a REINFORCE baseline on the same task with Categorical(probs=...) and returns
normalised by (r - mean) / (std + eps)."""
import argparse
import random

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.distributions.categorical import Categorical


class RingEnv:
    """N cells on a ring; actions 0=left 1=stay 2=right; reward 1 at the goal, -0.01 a step."""

    def __init__(self, n=8, max_steps=16, seed=0):
        self.n, self.max_steps = n, max_steps
        self.rng = np.random.RandomState(seed)

    def obs(self):
        o = np.zeros(2 * self.n, dtype=np.float32)
        o[self.pos] = 1.0
        o[self.n + self.goal] = 1.0
        return o

    def reset(self):
        self.pos, self.goal = self.rng.randint(self.n), self.rng.randint(self.n)
        while self.goal == self.pos:
            self.goal = self.rng.randint(self.n)
        self.t = 0
        return self.obs()

    def step(self, action):
        self.pos = (self.pos + int(action) - 1) % self.n
        self.t += 1
        done = self.pos == self.goal or self.t >= self.max_steps
        reward = 1.0 if self.pos == self.goal else -0.01
        return self.obs(), reward, done


class VecEnv:
    def __init__(self, num_envs, seed):
        self.envs = [RingEnv(seed=seed + i) for i in range(num_envs)]

    def reset(self):
        return np.stack([e.reset() for e in self.envs])

    def step(self, actions):
        obs, rews, dones = [], [], []
        for e, a in zip(self.envs, actions):
            o, r, d = e.step(a)
            if d:
                o = e.reset()
            obs.append(o), rews.append(r), dones.append(d)
        return np.stack(obs), np.array(rews, dtype=np.float32), np.array(dones)


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, obs_dim, n_actions):
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0))
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, n_actions), std=0.01))

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        logits = self.actor(x)
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


@torch.no_grad()
def greedy_success(agent, episodes=64, seed=123):
    env = RingEnv(seed=seed)
    wins = 0
    for _ in range(episodes):
        obs, done, r = env.reset(), False, 0.0
        while not done:
            logits = agent.actor(torch.tensor(obs).unsqueeze(0))
            obs, r, done = env.step(logits.argmax(dim=-1).item())
        wins += r > 0
    return wins / episodes


def ppo(args, device):
    envs = VecEnv(args.num_envs, args.seed)
    obs_dim, n_actions = 16, 3
    agent = Agent(obs_dim, n_actions).to(device)
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    obs = torch.zeros((args.num_steps, args.num_envs, obs_dim)).to(device)
    actions = torch.zeros((args.num_steps, args.num_envs)).to(device)
    logprobs = torch.zeros((args.num_steps, args.num_envs)).to(device)
    rewards = torch.zeros((args.num_steps, args.num_envs)).to(device)
    dones = torch.zeros((args.num_steps, args.num_envs)).to(device)
    values = torch.zeros((args.num_steps, args.num_envs)).to(device)
    batch_size = args.num_envs * args.num_steps
    minibatch_size = batch_size // args.num_minibatches
    next_obs = torch.Tensor(envs.reset()).to(device)
    next_done = torch.zeros(args.num_envs).to(device)
    for iteration in range(1, args.num_iterations + 1):
        frac = 1.0 - (iteration - 1.0) / args.num_iterations
        optimizer.param_groups[0]["lr"] = frac * args.learning_rate
        for step in range(0, args.num_steps):
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            next_obs, reward, next_done = envs.step(action.cpu().numpy())
            rewards[step] = torch.tensor(reward).to(device).view(-1)
            next_obs = torch.Tensor(next_obs).to(device)
            next_done = torch.Tensor(next_done.astype(np.float32)).to(device)
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards).to(device)
            lastgaelam = 0
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = (delta + args.gamma * args.gae_lambda
                                              * nextnonterminal * lastgaelam)
            returns = advantages + values
        b_obs = obs.reshape((-1, obs_dim))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)
        b_inds = np.arange(batch_size)
        clipfracs = []
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, batch_size, minibatch_size):
                mb_inds = b_inds[start:start + minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                    b_obs[mb_inds], b_actions.long()[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs += [((ratio - 1.0).abs() > args.clip_coef).float().mean().item()]
                mb_advantages = b_advantages[mb_inds]
                mb_advantages = ((mb_advantages - mb_advantages.mean())
                                 / (mb_advantages.std() + 1e-8))
                pg_loss1 = -mb_advantages * ratio
                clipped = torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                pg_loss2 = -mb_advantages * clipped
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()
                newvalue = newvalue.view(-1)
                v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                v_clipped = b_values[mb_inds] + torch.clamp(
                    newvalue - b_values[mb_inds], -args.clip_coef, args.clip_coef)
                v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()
        y_pred, y_true = b_values.cpu().numpy(), b_returns.cpu().numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y
        if iteration % 5 == 0:
            print(f"iter {iteration} reward/step {rewards.mean().item():.3f} "
                  f"approx_kl {approx_kl.item():.4f} clipfrac {np.mean(clipfracs):.3f} "
                  f"explained_var {explained_var:.3f}")
    return agent


def reinforce(args, device):
    torch.manual_seed(args.seed)
    policy = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 3), nn.Softmax(dim=-1))
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    eps = np.finfo(np.float32).eps.item()
    env = RingEnv(seed=args.seed + 100)
    running_reward = 0
    for i_episode in range(1, 301):
        state, ep_reward = env.reset(), 0
        saved_log_probs, rewards = [], []
        done = False
        while not done:
            probs = policy(torch.from_numpy(state).float().unsqueeze(0))
            m = Categorical(probs)
            action = m.sample()
            saved_log_probs.append(m.log_prob(action))
            state, reward, done = env.step(action.item())
            rewards.append(reward)
            ep_reward += reward
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        R, returns = 0, []
        for r in rewards[::-1]:
            R = r + args.gamma * R
            returns.insert(0, R)
        returns = torch.tensor(returns)
        if len(returns) > 1:
            returns = (returns - returns.mean()) / (returns.std() + eps)
        policy_loss = [-log_prob * R for log_prob, R in zip(saved_log_probs, returns)]
        optimizer.zero_grad()
        policy_loss = torch.cat(policy_loss).sum()
        policy_loss.backward()
        optimizer.step()
        if i_episode % 100 == 0:
            print(f"Episode {i_episode}\tLast reward: {ep_reward:.2f}\t"
                  f"Average reward: {running_reward:.2f}")
    return running_reward


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--num-steps", type=int, default=32)
    p.add_argument("--num-iterations", type=int, default=30)
    p.add_argument("--learning-rate", type=float, default=2.5e-3)
    p.add_argument("--gamma", type=float, default=0.95)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--update-epochs", type=int, default=4)
    p.add_argument("--clip-coef", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    args = p.parse_args()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = True
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    agent = ppo(args, device)
    ppo_success = greedy_success(agent)
    running = reinforce(args, device)
    print(f"ppo greedy success {ppo_success:.3f}, reinforce running reward {running:.3f}")
    d = Categorical(logits=torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]))
    print("entropy", d.entropy(), "probs", d.probs, "log_prob", d.log_prob(torch.tensor([2, 0])))
    print(f"final_acc {ppo_success:.4f}")


if __name__ == "__main__":
    main()
